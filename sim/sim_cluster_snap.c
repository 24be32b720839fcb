/*
 * sim_cluster_snap — see sim_cluster_snap.h.
 */
#include "sim/sim_cluster_snap.h"

#include "lib/util.h"
#include "lib/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void snap_workload_free(struct simc_snap_workload *w)
{
    simc_map_clear(&w->labels);
    simc_map_clear(&w->annotations);
    simc_map_clear(&w->pod_annotations);
}

void simc_snapshot_free(struct simc_snapshot *s)
{
    simc_map_clear(&s->labels);
    simc_map_clear(&s->annotations);
    for (size_t i = 0; i < s->nworkloads; i++)
        snap_workload_free(&s->workloads[i]);
    free(s->workloads);
    memset(s, 0, sizeof *s);
}

int simc_ns_snapshot(const struct simc_namespace *ns, struct simc_snapshot *out)
{
    memset(out, 0, sizeof *out);
    util_strlcpy(out->name, ns->meta.name, sizeof out->name);
    out->data_version = ns->data_version;
    out->has_data = simc_ns_pods_up(ns);
    if (simc_map_copy(&out->labels, &ns->meta.labels) < 0)
        goto fail;
    if (simc_map_copy(&out->annotations, &ns->meta.annotations) < 0)
        goto fail;
    if (ns->nworkloads && !(out->workloads = calloc(ns->nworkloads, sizeof *out->workloads)))
        goto fail;
    for (size_t i = 0; i < ns->nworkloads; i++) {
        const struct simc_workload *w = &ns->workloads[i];
        struct simc_snap_workload *sw = &out->workloads[i];
        out->nworkloads++;
        sw->kind = w->kind;
        util_strlcpy(sw->name, w->meta.name, sizeof sw->name);
        sw->replicas = w->replicas;
        if (simc_map_copy(&sw->labels, &w->meta.labels) < 0 ||
            simc_map_copy(&sw->annotations, &w->meta.annotations) < 0 ||
            simc_map_copy(&sw->pod_annotations, &w->pod_annotations) < 0)
            goto fail;
    }
    return 0;
fail:
    simc_snapshot_free(out);
    return -1;
}

/* ---- JSON out ---- */

static bool add_map(cJSON *o, const char *key, const struct simc_map *m)
{
    cJSON *obj = cJSON_AddObjectToObject(o, key);
    if (!obj)
        return false;
    for (size_t i = 0; i < m->n; i++)
        if (!cJSON_AddStringToObject(obj, m->pairs[i].key, m->pairs[i].value))
            return false;
    return true;
}

cJSON *simc_snapshot_to_json(const struct simc_snapshot *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *lists[2] = {NULL, NULL};
    if (!o || !cJSON_AddStringToObject(o, "name", s->name) || !add_map(o, "labels", &s->labels) ||
        !add_map(o, "annotations", &s->annotations) ||
        !cJSON_AddNumberToObject(o, "data_version", (double)s->data_version) ||
        !cJSON_AddBoolToObject(o, "has_data", s->has_data) ||
        !(lists[SIMC_DEPLOYMENT] = cJSON_AddArrayToObject(o, "deployments")) ||
        !(lists[SIMC_STATEFULSET] = cJSON_AddArrayToObject(o, "statefulsets")))
        goto fail;
    for (size_t i = 0; i < s->nworkloads; i++) {
        const struct simc_snap_workload *w = &s->workloads[i];
        cJSON *item = cJSON_CreateObject();
        if (!item)
            goto fail;
        cJSON_AddItemToArray(lists[w->kind], item);
        if (!cJSON_AddStringToObject(item, "name", w->name) ||
            !cJSON_AddNumberToObject(item, "replicas", w->replicas) ||
            !add_map(item, "labels", &w->labels) ||
            !add_map(item, "annotations", &w->annotations) ||
            !add_map(item, "pod_annotations", &w->pod_annotations))
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* ---- JSON in ---- */

#define PATH_LEN 400

static int bad(char *err, size_t errlen, const char *path, const char *what)
{
    return errf(err, errlen, "%s: %s", path, what);
}

/* Every member named in allowed, once. */
static int check_keys(const cJSON *o, const char *const *allowed, const char *path, char *err,
                      size_t errlen)
{
    char p[PATH_LEN];
    if (!cJSON_IsObject(o))
        return bad(err, errlen, path, "expected an object");
    for (const cJSON *it = o->child; it; it = it->next) {
        snprintf(p, sizeof p, "%s.%s", path, it->string);
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            known = known || strcmp(allowed[i], it->string) == 0;
        if (!known)
            return bad(err, errlen, p, "unknown key");
        for (const cJSON *prev = o->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return bad(err, errlen, p, "duplicate key");
    }
    return 0;
}

static int read_name(const cJSON *o, const char *path, char *out, size_t n, char *err,
                     size_t errlen)
{
    char p[PATH_LEN], why[300];
    snprintf(p, sizeof p, "%s.name", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "name");
    if (!cJSON_IsString(v))
        return bad(err, errlen, p, v ? "expected a string" : "missing");
    if (simc_dns_label_check(v->valuestring, why, sizeof why) < 0)
        return errf(err, errlen, "%s: \"%s\": %s", p, v->valuestring, why);
    util_strlcpy(out, v->valuestring, n);
    return 0;
}

static int read_map(const cJSON *o, const char *key, const char *path, bool labels,
                    struct simc_map *m, char *err, size_t errlen)
{
    char p[PATH_LEN], why[300];
    snprintf(p, sizeof p, "%s.%s", path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsObject(v))
        return bad(err, errlen, p, "expected an object of strings");
    for (const cJSON *it = v->child; it; it = it->next) {
        char pk[PATH_LEN + 64];
        snprintf(pk, sizeof pk, "%s[\"%s\"]", p, it->string);
        if (!cJSON_IsString(it))
            return bad(err, errlen, pk, "expected a string");
        if (simc_qualified_name_check(it->string, why, sizeof why) < 0 ||
            (labels && simc_label_value_check(it->valuestring, why, sizeof why) < 0))
            return bad(err, errlen, pk, why);
        if (simc_map_get(m, it->string))
            return bad(err, errlen, pk, "duplicate key");
        if (simc_map_set(m, it->string, it->valuestring) < 0)
            return bad(err, errlen, pk, "out of memory");
    }
    return 0;
}

static int read_workloads(struct simc_snapshot *s, const cJSON *root, enum simc_kind kind,
                          const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {"name",        "replicas",        "labels",
                                       "annotations", "pod_annotations", NULL};
    char p[PATH_LEN];
    snprintf(p, sizeof p, "%s.%s", path, simc_kind_plural(kind));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, simc_kind_plural(kind));
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return bad(err, errlen, p, "expected an array");
    int i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        char pi[PATH_LEN + 16];
        snprintf(pi, sizeof pi, "%s[%d]", p, i);
        if (s->nworkloads >= SIMC_MAX_WORKLOADS)
            return bad(err, errlen, pi, "too many workloads");
        struct simc_snap_workload *tmp = realloc(s->workloads, (s->nworkloads + 1) * sizeof *tmp);
        if (!tmp)
            return bad(err, errlen, pi, "out of memory");
        s->workloads = tmp;
        struct simc_snap_workload *w = &s->workloads[s->nworkloads++];
        memset(w, 0, sizeof *w);
        w->kind = kind;
        if (check_keys(it, keys, pi, err, errlen) < 0 ||
            read_name(it, pi, w->name, sizeof w->name, err, errlen) < 0)
            return -1;
        for (size_t j = 0; j + 1 < s->nworkloads; j++)
            if (s->workloads[j].kind == kind && strcmp(s->workloads[j].name, w->name) == 0)
                return bad(err, errlen, pi, "duplicate name");
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "replicas");
        if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 0 ||
            r->valuedouble > 2147483647.0) {
            char pr[PATH_LEN + 32];
            snprintf(pr, sizeof pr, "%s.replicas", pi);
            return bad(err, errlen, pr, r ? "expected a whole number 0..2147483647" : "missing");
        }
        w->replicas = (int32_t)r->valuedouble;
        if (read_map(it, "labels", pi, true, &w->labels, err, errlen) < 0 ||
            read_map(it, "annotations", pi, false, &w->annotations, err, errlen) < 0 ||
            read_map(it, "pod_annotations", pi, false, &w->pod_annotations, err, errlen) < 0)
            return -1;
    }
    return 0;
}

int simc_snapshot_from_json(struct simc_snapshot *out, const cJSON *v, const char *path, char *err,
                            size_t errlen)
{
    static const char *const keys[] = {"name",     "labels",      "annotations",  "data_version",
                                       "has_data", "deployments", "statefulsets", NULL};
    memset(out, 0, sizeof *out);
    char p[PATH_LEN];
    if (check_keys(v, keys, path, err, errlen) < 0 ||
        read_name(v, path, out->name, sizeof out->name, err, errlen) < 0 ||
        read_map(v, "labels", path, true, &out->labels, err, errlen) < 0 ||
        read_map(v, "annotations", path, false, &out->annotations, err, errlen) < 0)
        goto fail;
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(v, "data_version");
    snprintf(p, sizeof p, "%s.data_version", path);
    /* 2^53: every whole number up to it survives a JSON double. */
    if (!cJSON_IsNumber(dv) || dv->valuedouble != floor(dv->valuedouble) || dv->valuedouble < 0 ||
        dv->valuedouble > 9007199254740992.0) {
        bad(err, errlen, p, dv ? "expected a whole number 0..2^53" : "missing");
        goto fail;
    }
    out->data_version = (uint64_t)dv->valuedouble;
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(v, "has_data");
    snprintf(p, sizeof p, "%s.has_data", path);
    if (!cJSON_IsBool(hd)) {
        bad(err, errlen, p, hd ? "expected true or false" : "missing");
        goto fail;
    }
    out->has_data = cJSON_IsTrue(hd);
    if (read_workloads(out, v, SIMC_DEPLOYMENT, path, err, errlen) < 0 ||
        read_workloads(out, v, SIMC_STATEFULSET, path, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    simc_snapshot_free(out);
    return -1;
}

/* ---- restore ---- */

/* *dst becomes a copy of src; 0, or -1 when out of memory (dst kept). */
static int map_assign(struct simc_map *dst, const struct simc_map *src)
{
    struct simc_map copy;
    if (simc_map_copy(&copy, src) < 0)
        return -1;
    simc_map_clear(dst);
    *dst = copy;
    return 0;
}

int simc_ns_restore(struct simc_cluster *c, const struct simc_snapshot *s, int64_t now_ms,
                    struct simc_restore_result *res, enum simc_err *why, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    *why = SIMC_OK;
    struct simc_namespace *ns = simc_ns_find(c, s->name);
    if (ns && ns->phase == SIMC_NS_TERMINATING) {
        *why = SIMC_ERR_TERMINATING;
        return errf(err, errlen,
                    "namespace %s is being terminated: unable to create new content in it",
                    s->name);
    }
    if (!ns) {
        if (!(ns = simc_ns_add(c, s->name, now_ms, err, errlen))) {
            *why = c->nnamespaces >= SIMC_MAX_NAMESPACES ? SIMC_ERR_INVALID : SIMC_ERR_NOMEM;
            return -1;
        }
        res->ns_created = true;
        ns->data_version = s->has_data ? s->data_version : 0;
        if (map_assign(&ns->meta.labels, &s->labels) < 0 ||
            map_assign(&ns->meta.annotations, &s->annotations) < 0 || simc_ns_fix_labels(ns) < 0) {
            *why = SIMC_ERR_NOMEM;
            return errf(err, errlen, "out of memory");
        }
    }
    for (size_t i = 0; i < s->nworkloads; i++) {
        const struct simc_snap_workload *sw = &s->workloads[i];
        if (simc_workload_find(ns, sw->kind, sw->name)) {
            res->skipped++;
            continue;
        }
        struct simc_workload *w =
            simc_workload_create(c, ns, sw->kind, sw->name, sw->replicas, now_ms, why, err, errlen);
        if (!w)
            return -1;
        res->created++;
        if (map_assign(&w->meta.labels, &sw->labels) < 0 ||
            map_assign(&w->meta.annotations, &sw->annotations) < 0 ||
            map_assign(&w->pod_annotations, &sw->pod_annotations) < 0) {
            *why = SIMC_ERR_NOMEM;
            return errf(err, errlen, "out of memory");
        }
    }
    return 0;
}

int simc_ns_restore_snapshot(struct simc_cluster *c, const struct simc_snapshot *s, int64_t now_ms,
                             struct simc_restore_result *res, enum simc_err *why, char *err,
                             size_t errlen)
{
    if (simc_ns_find(c, s->name)) {
        memset(res, 0, sizeof *res);
        *why = SIMC_ERR_EXISTS;
        return errf(err, errlen, "namespaces \"%s\" already exists", s->name);
    }
    return simc_ns_restore(c, s, now_ms, res, why, err, errlen);
}
