/*
 * sim_cluster — see sim_cluster.h.
 */
#include "sim/sim_cluster.h"

#include "lib/util.h"
#include "lib/vec.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void simc_init(struct simc_cluster *c, const char *site)
{
    memset(c, 0, sizeof *c);
    /* FNV-1a of the site name: uids look random and differ between the
     * two sites of a demo, yet a run is reproducible. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)site; *p; p++)
        h = (h ^ *p) * 16777619u;
    c->uid_prefix = h;
    c->ready_delay_ms = SIMC_READY_DELAY_MS;
    c->stop_delay_ms = SIMC_STOP_DELAY_MS;
    c->terminate_delay_ms = SIMC_TERMINATE_DELAY_MS;
}

static void meta_clear(struct simc_meta *m)
{
    simc_map_clear(&m->labels);
    simc_map_clear(&m->annotations);
}

static void workload_clear(struct simc_workload *w)
{
    meta_clear(&w->meta);
    simc_map_clear(&w->pod_annotations);
}

static void ns_clear(struct simc_namespace *ns)
{
    meta_clear(&ns->meta);
    for (size_t i = 0; i < ns->nworkloads; i++)
        workload_clear(&ns->workloads[i]);
    free(ns->workloads);
    ns->workloads = NULL;
    ns->nworkloads = ns->cap_workloads = 0;
}

void simc_clear(struct simc_cluster *c)
{
    for (size_t i = 0; i < c->nnamespaces; i++)
        ns_clear(&c->namespaces[i]);
    free(c->namespaces);
    c->namespaces = NULL;
    c->nnamespaces = c->cap_namespaces = 0;
}

static int meta_copy(struct simc_meta *dst, const struct simc_meta *src)
{
    *dst = *src;
    if (simc_map_copy(&dst->labels, &src->labels) < 0) {
        memset(&dst->annotations, 0, sizeof dst->annotations);
        return -1;
    }
    if (simc_map_copy(&dst->annotations, &src->annotations) < 0) {
        simc_map_clear(&dst->labels);
        return -1;
    }
    return 0;
}

static int workload_copy(struct simc_workload *dst, const struct simc_workload *src)
{
    *dst = *src;
    if (meta_copy(&dst->meta, &src->meta) < 0) {
        memset(&dst->pod_annotations, 0, sizeof dst->pod_annotations);
        return -1;
    }
    if (simc_map_copy(&dst->pod_annotations, &src->pod_annotations) < 0) {
        meta_clear(&dst->meta);
        return -1;
    }
    return 0;
}

static int ns_copy(struct simc_namespace *dst, const struct simc_namespace *src)
{
    *dst = *src;
    dst->workloads = NULL;
    dst->nworkloads = dst->cap_workloads = 0;
    if (meta_copy(&dst->meta, &src->meta) < 0)
        return -1;
    if (src->nworkloads && vec_reserve(dst->workloads, dst->cap_workloads, src->nworkloads) < 0)
        goto fail;
    for (size_t i = 0; i < src->nworkloads; i++) {
        if (workload_copy(&dst->workloads[i], &src->workloads[i]) < 0)
            goto fail;
        dst->nworkloads++;
    }
    return 0;
fail:
    ns_clear(dst);
    return -1;
}

int simc_clone(struct simc_cluster *dst, const struct simc_cluster *src)
{
    *dst = *src;
    dst->namespaces = NULL;
    dst->nnamespaces = dst->cap_namespaces = 0;
    if (src->nnamespaces && vec_reserve(dst->namespaces, dst->cap_namespaces, src->nnamespaces) < 0)
        return -1;
    for (size_t i = 0; i < src->nnamespaces; i++) {
        if (ns_copy(&dst->namespaces[i], &src->namespaces[i]) < 0) {
            simc_clear(dst);
            return -1;
        }
        dst->nnamespaces++;
    }
    return 0;
}

const char *simc_kind_name(enum simc_kind k)
{
    return k == SIMC_DEPLOYMENT ? "Deployment" : "StatefulSet";
}

const char *simc_kind_plural(enum simc_kind k)
{
    return k == SIMC_DEPLOYMENT ? "deployments" : "statefulsets";
}

const char *simc_ns_phase_name(enum simc_ns_phase p)
{
    return p == SIMC_NS_TERMINATING ? "Terminating" : "Active";
}

void simc_next_uid(struct simc_cluster *c, char uid[SIMC_UID_LEN])
{
    c->uid_serial++;
    snprintf(uid, SIMC_UID_LEN, "%08" PRIx32 "-0000-4000-8000-%012" PRIx64, c->uid_prefix,
             c->uid_serial & 0xffffffffffffu);
}

/* A fresh object: next uid and resourceVersion, created now. */
static void meta_init(struct simc_cluster *c, struct simc_meta *m, const char *name, int64_t now_ms)
{
    memset(m, 0, sizeof *m);
    util_strlcpy(m->name, name, sizeof m->name);
    simc_next_uid(c, m->uid);
    m->resource_version = ++c->resource_version;
    m->created_ms = now_ms;
}

void simc_touch(struct simc_cluster *c, struct simc_meta *meta)
{
    meta->resource_version = ++c->resource_version;
}

void simc_touch_spec(struct simc_cluster *c, struct simc_workload *w)
{
    w->generation++;
    simc_touch(c, &w->meta);
}

struct simc_namespace *simc_ns_find(const struct simc_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->nnamespaces; i++)
        if (strcmp(c->namespaces[i].meta.name, name) == 0)
            return &c->namespaces[i];
    return NULL;
}

int simc_ns_fix_labels(struct simc_namespace *ns)
{
    const char *v = simc_map_get(&ns->meta.labels, SIMC_LABEL_NS_NAME);
    if (v && strcmp(v, ns->meta.name) == 0)
        return 0;
    return simc_map_set(&ns->meta.labels, SIMC_LABEL_NS_NAME, ns->meta.name);
}

struct simc_namespace *simc_ns_add(struct simc_cluster *c, const char *name, int64_t now_ms,
                                   char *err, size_t errlen)
{
    char why[256];
    if (simc_dns_label_check(name, why, sizeof why) < 0) {
        errf(err, errlen, "namespace name \"%s\": %s", name, why);
        return NULL;
    }
    if (simc_ns_find(c, name)) {
        errf(err, errlen, "namespaces \"%s\" already exists", name);
        return NULL;
    }
    if (c->nnamespaces >= SIMC_MAX_NAMESPACES) {
        errf(err, errlen, "more than %d namespaces", SIMC_MAX_NAMESPACES);
        return NULL;
    }
    if (vec_reserve(c->namespaces, c->cap_namespaces, c->nnamespaces + 1) < 0) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    size_t pos = 0;
    while (pos < c->nnamespaces && strcmp(c->namespaces[pos].meta.name, name) < 0)
        pos++;
    struct simc_namespace ns = {.phase = SIMC_NS_ACTIVE};
    meta_init(c, &ns.meta, name, now_ms);
    if (simc_ns_fix_labels(&ns) < 0) {
        ns_clear(&ns);
        errf(err, errlen, "out of memory");
        return NULL;
    }
    memmove(&c->namespaces[pos + 1], &c->namespaces[pos],
            (c->nnamespaces - pos) * sizeof *c->namespaces);
    c->namespaces[pos] = ns;
    c->nnamespaces++;
    return &c->namespaces[pos];
}

int simc_ns_remove(struct simc_cluster *c, const char *name)
{
    struct simc_namespace *ns = simc_ns_find(c, name);
    if (!ns)
        return -1;
    size_t pos = (size_t)(ns - c->namespaces);
    ns_clear(ns);
    memmove(&c->namespaces[pos], &c->namespaces[pos + 1],
            (c->nnamespaces - pos - 1) * sizeof *c->namespaces);
    c->nnamespaces--;
    /* A deletion is a change: a list taken afterwards has a newer version. */
    c->resource_version++;
    return 0;
}

struct simc_workload *simc_workload_find(const struct simc_namespace *ns, enum simc_kind kind,
                                         const char *name)
{
    for (size_t i = 0; i < ns->nworkloads; i++)
        if (ns->workloads[i].kind == kind && strcmp(ns->workloads[i].meta.name, name) == 0)
            return &ns->workloads[i];
    return NULL;
}

static int workload_cmp(const struct simc_workload *w, enum simc_kind kind, const char *name)
{
    if (w->kind != kind)
        return w->kind < kind ? -1 : 1;
    return strcmp(w->meta.name, name);
}

struct simc_workload *simc_workload_add(struct simc_cluster *c, struct simc_namespace *ns,
                                        enum simc_kind kind, const char *name, int64_t now_ms,
                                        char *err, size_t errlen)
{
    char why[256];
    /* A label, not a subdomain: the name is also the value of the pods'
     * "app" label, and StatefulSet pods use it in their host names. */
    if (simc_dns_label_check(name, why, sizeof why) < 0) {
        errf(err, errlen, "%s name \"%s\": %s", simc_kind_name(kind), name, why);
        return NULL;
    }
    if (simc_workload_find(ns, kind, name)) {
        errf(err, errlen, "%s.apps \"%s\" already exists", simc_kind_plural(kind), name);
        return NULL;
    }
    if (ns->nworkloads >= SIMC_MAX_WORKLOADS) {
        errf(err, errlen, "more than %d workloads in namespace %s", SIMC_MAX_WORKLOADS,
             ns->meta.name);
        return NULL;
    }
    if (vec_reserve(ns->workloads, ns->cap_workloads, ns->nworkloads + 1) < 0) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    size_t pos = 0;
    while (pos < ns->nworkloads && workload_cmp(&ns->workloads[pos], kind, name) < 0)
        pos++;
    memmove(&ns->workloads[pos + 1], &ns->workloads[pos],
            (ns->nworkloads - pos) * sizeof *ns->workloads);
    struct simc_workload *w = &ns->workloads[pos];
    memset(w, 0, sizeof *w);
    w->kind = kind;
    meta_init(c, &w->meta, name, now_ms);
    w->generation = 1;
    w->replicas = 1;
    ns->nworkloads++;
    simc_workload_settle_now(ns, w);
    return w;
}

bool simc_ns_running(const struct simc_namespace *ns)
{
    for (size_t i = 0; i < ns->nworkloads; i++)
        if (ns->workloads[i].replicas > 0)
            return true;
    return false;
}

double simc_ns_power_kw(const struct simc_namespace *ns)
{
    const char *v = simc_map_get(&ns->meta.annotations, SIMC_ANNOTATION_POWER_KW);
    /* Plain decimal only: strtod would also take blanks, hex and "inf". */
    if (!v || !*v || strspn(v, "0123456789.eE+-") != strlen(v))
        return 0;
    char *end;
    double kw = strtod(v, &end);
    if (*end || !isfinite(kw) || kw < 0)
        return 0;
    return kw;
}

double simc_running_kw(const struct simc_cluster *c)
{
    double kw = 0;
    for (size_t i = 0; i < c->nnamespaces; i++)
        if (c->namespaces[i].phase == SIMC_NS_ACTIVE && simc_ns_running(&c->namespaces[i]))
            kw += simc_ns_power_kw(&c->namespaces[i]);
    return kw;
}

bool simc_ns_stateful(const struct simc_namespace *ns)
{
    const char *st = simc_map_get(&ns->meta.annotations, "floe.dev/stateless");
    if (st && strcmp(st, "true") == 0)
        return false;
    const char *v = simc_map_get(&ns->meta.annotations, "floe.dev/data-gb");
    if (!v || !*v || strspn(v, "0123456789.eE+-") != strlen(v))
        return false;
    char *end;
    double gb = strtod(v, &end);
    return !*end && isfinite(gb) && gb > 0;
}

bool simc_ns_writing(const struct simc_namespace *ns)
{
    return ns->phase == SIMC_NS_ACTIVE && !ns->quiesced && simc_ns_pods_up(ns) &&
           simc_ns_stateful(ns);
}

void simc_advance(struct simc_cluster *c, int64_t step_ms)
{
    for (size_t i = 0; i < c->nnamespaces; i++) {
        struct simc_namespace *ns = &c->namespaces[i];
        if (!simc_ns_writing(ns)) {
            ns->write_carry_ms = 0;
            continue;
        }
        ns->write_carry_ms += step_ms;
        ns->data_version += (uint64_t)(ns->write_carry_ms / 1000);
        ns->write_carry_ms %= 1000;
    }
}

/* ---- pods and the namespace life cycle ---- */

bool simc_ns_pods_up(const struct simc_namespace *ns)
{
    for (size_t i = 0; i < ns->nworkloads; i++)
        if (ns->workloads[i].ready > 0)
            return true;
    return false;
}

int32_t simc_ns_pods(const struct simc_namespace *ns)
{
    int64_t n = 0;
    for (size_t i = 0; i < ns->nworkloads; i++)
        n += ns->workloads[i].pods;
    return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

bool simc_workload_ready(const struct simc_workload *w)
{
    /* A Deployment's available and a StatefulSet's ready count are the
     * same number here: pods are available as soon as ready
     * (minReadySeconds 0). */
    return w->observed_generation >= w->generation && w->updated == w->replicas &&
           w->ready == w->replicas && w->pods == w->replicas;
}

/* New pods in a namespace that had none: they start without the quiesce
 * a pre-hook put into the old ones. */
static void pods_started(struct simc_namespace *ns, int32_t pods_before)
{
    if (pods_before == 0 && simc_ns_pods(ns) > 0)
        ns->quiesced = false;
}

void simc_workload_settle_now(struct simc_namespace *ns, struct simc_workload *w)
{
    int32_t before = simc_ns_pods(ns);
    w->observed_generation = w->generation;
    w->pods = w->updated = w->ready = w->replicas;
    w->settle_ms = 0;
    pods_started(ns, before);
}

static bool never_ready(const struct simc_cluster *c, const struct simc_namespace *ns)
{
    return c->never_ready[0] && strcmp(c->never_ready, ns->meta.name) == 0;
}

/* What the controllers do at once after a spec change: they observe the
 * new generation, create the pods asked for (not ready yet) and start
 * stopping the surplus; the rest is due at settle_ms. */
static void start_pods(struct simc_cluster *c, struct simc_namespace *ns, struct simc_workload *w,
                       bool template_changed, int64_t now_ms)
{
    int32_t before = simc_ns_pods(ns);
    w->observed_generation = w->generation;
    bool starting = template_changed || w->replicas > w->ready;
    if (w->replicas > w->pods)
        w->pods = w->replicas;
    if (template_changed)
        w->updated = 0;
    else if (w->replicas > w->updated)
        w->updated = w->replicas;
    if (!starting && w->replicas == w->pods && w->replicas == w->updated) {
        w->settle_ms = 0;
        w->ready = w->replicas;
    } else {
        w->settle_ms = now_ms + (starting ? c->ready_delay_ms : c->stop_delay_ms);
        /* 0 means settled; a transition due at time 0 is due at once. */
        if (w->settle_ms <= 0)
            w->settle_ms = 1;
    }
    pods_started(ns, before);
}

int simc_workload_set_spec(struct simc_cluster *c, struct simc_namespace *ns,
                           struct simc_workload *w, int32_t replicas,
                           const struct simc_map *pod_annotations, int64_t now_ms)
{
    bool template_changed = false;
    if (pod_annotations) {
        bool same = pod_annotations->n == w->pod_annotations.n;
        for (size_t i = 0; same && i < pod_annotations->n; i++) {
            const char *v = simc_map_get(&w->pod_annotations, pod_annotations->pairs[i].key);
            same = v && strcmp(v, pod_annotations->pairs[i].value) == 0;
        }
        if (!same) {
            struct simc_map copy;
            if (simc_map_copy(&copy, pod_annotations) < 0)
                return -1;
            simc_map_clear(&w->pod_annotations);
            w->pod_annotations = copy;
            template_changed = true;
        }
    }
    if (replicas == w->replicas && !template_changed)
        return 0;
    w->replicas = replicas;
    simc_touch_spec(c, w);
    start_pods(c, ns, w, template_changed, now_ms);
    return 0;
}

struct simc_workload *simc_workload_create(struct simc_cluster *c, struct simc_namespace *ns,
                                           enum simc_kind kind, const char *name, int32_t replicas,
                                           int64_t now_ms, enum simc_err *why, char *err,
                                           size_t errlen)
{
    if (ns->phase == SIMC_NS_TERMINATING) {
        *why = SIMC_ERR_TERMINATING;
        errf(err, errlen,
             "%s.apps \"%s\" is forbidden: unable to create new content in namespace %s because "
             "it is being terminated",
             simc_kind_plural(kind), name, ns->meta.name);
        return NULL;
    }
    if (simc_workload_find(ns, kind, name)) {
        *why = SIMC_ERR_EXISTS;
        errf(err, errlen, "%s.apps \"%s\" already exists", simc_kind_plural(kind), name);
        return NULL;
    }
    char why_name[256];
    if (replicas < 0 || simc_dns_label_check(name, why_name, sizeof why_name) < 0 ||
        ns->nworkloads >= SIMC_MAX_WORKLOADS) {
        *why = SIMC_ERR_INVALID;
        if (replicas < 0)
            errf(err, errlen,
                 "spec.replicas: Invalid value: %" PRId32 ": must be greater than or equal to 0",
                 replicas);
        else if (ns->nworkloads >= SIMC_MAX_WORKLOADS)
            errf(err, errlen, "more than %d workloads in namespace %s", SIMC_MAX_WORKLOADS,
                 ns->meta.name);
        else
            errf(err, errlen, "metadata.name: Invalid value: \"%s\": %s", name, why_name);
        return NULL;
    }
    struct simc_workload *w = simc_workload_add(c, ns, kind, name, now_ms, err, errlen);
    if (!w) {
        *why = SIMC_ERR_NOMEM; /* the only failure left */
        return NULL;
    }
    w->replicas = replicas;
    w->pods = w->updated = w->ready = 0;
    start_pods(c, ns, w, false, now_ms);
    *why = SIMC_OK;
    return w;
}

void simc_ns_delete(struct simc_cluster *c, struct simc_namespace *ns, int64_t now_ms)
{
    if (ns->phase == SIMC_NS_TERMINATING)
        return;
    ns->phase = SIMC_NS_TERMINATING;
    ns->deletion_ms = now_ms;
    ns->gone_ms = now_ms + c->terminate_delay_ms;
    ns->write_carry_ms = 0;
    simc_touch(c, &ns->meta);
}

/* A workload's pods reach its spec when their time has come; in a
 * never-ready namespace new pods stay unready (and the transition pending,
 * so they come up once the fault is cleared). */
static bool settle_workload(struct simc_cluster *c, struct simc_namespace *ns,
                            struct simc_workload *w, int64_t now_ms)
{
    if (!w->settle_ms || w->settle_ms > now_ms)
        return false;
    int32_t pods = w->pods, updated = w->updated, ready = w->ready;
    w->pods = w->updated = w->replicas;
    if (!never_ready(c, ns) || w->replicas <= w->ready) {
        w->ready = w->replicas;
        w->settle_ms = 0;
    }
    if (w->pods == pods && w->updated == updated && w->ready == ready)
        return false;
    simc_touch(c, &w->meta);
    return true;
}

bool simc_settle(struct simc_cluster *c, int64_t now_ms)
{
    bool changed = false;
    for (size_t i = 0; i < c->nnamespaces;) {
        struct simc_namespace *ns = &c->namespaces[i];
        if (ns->phase == SIMC_NS_TERMINATING && ns->gone_ms <= now_ms) {
            char name[sizeof ns->meta.name];
            util_strlcpy(name, ns->meta.name, sizeof name);
            simc_ns_remove(c, name);
            changed = true;
            continue;
        }
        for (size_t j = 0; j < ns->nworkloads; j++)
            changed = settle_workload(c, ns, &ns->workloads[j], now_ms) || changed;
        i++;
    }
    return changed;
}
