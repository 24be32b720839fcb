/*
 * mig_kube — see mig_kube.h.
 *
 * The three reads of mig_kube_read (the namespace, its Deployments, its
 * StatefulSets) go out at once: a migration polls them every few seconds
 * while it waits for a rollout.
 */
#include "migrator/mig_kube.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

const char *mig_obj_kind_key(enum mig_obj_kind k)
{
    return k == MIG_STATEFULSET ? "statefulset" : "deployment";
}

const char *mig_obj_kind_resource(enum mig_obj_kind k)
{
    return k == MIG_STATEFULSET ? "statefulsets" : "deployments";
}

static const char *kind_name(enum mig_obj_kind k)
{
    return k == MIG_STATEFULSET ? "StatefulSet" : "Deployment";
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* An object's name as the API server may give it back: a DNS-1123
 * subdomain (dot-separated labels of [a-z0-9-], each starting and ending
 * alphanumeric, 253 in all). Checked before it goes into a path: "..",
 * "a/b" or "%2F" never reach one. */
static bool object_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MIG_OBJ_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
        if (!alnum && !((c == '-' || c == '.') && !edge))
            return false;
    }
    return true;
}

/* The value quoted back in an error: control characters and quotes
 * replaced, long ones cut. */
static void shown(const char *v, char *out, size_t n)
{
    size_t len = strlen(v), max = n > 44 ? 40 : n - 4, o = 0;
    for (size_t i = 0; i < len && i < max; i++)
        out[o++] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f || v[i] == '"' ? '?' : v[i];
    if (len > max) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* A JSON value in a few words, for "is not a whole number" messages. */
static void describe(const cJSON *v, char *out, size_t n)
{
    if (cJSON_IsString(v)) {
        char q[48];
        shown(v->valuestring, q, sizeof q);
        snprintf(out, n, "\"%s\"", q);
    } else if (cJSON_IsNumber(v)) {
        snprintf(out, n, "%.17g", v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        snprintf(out, n, "an array");
    } else if (cJSON_IsObject(v)) {
        snprintf(out, n, "an object");
    } else {
        snprintf(out, n, "null");
    }
}

/* A whole number 0..max at o.key; absent (or null: what a client that
 * printed a nil pointer sends) is dflt. */
static int whole(const cJSON *o, const char *key, double max, int64_t dflt, int64_t *out,
                 const char *where, const char *field, char *err, size_t errlen)
{
    const cJSON *v = get(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > max || floor(v->valuedouble) != v->valuedouble) {
        char d[64];
        describe(v, d, sizeof d);
        return errf(err, errlen, "%s: %s: %s is not a whole number 0..%.0f", where, field, d, max);
    }
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* metadata.generation and status.observedGeneration: int64 in the API,
 * exact in a double up to 2^53. */
#define GENERATION_MAX 9007199254740992.0

static int read_obj(const cJSON *item, enum mig_obj_kind kind, const char *ns, const char *list,
                    size_t index, struct mig_obj *o, char *err, size_t errlen)
{
    char where[MIG_OBJ_NAME_MAX + 96];
    snprintf(where, sizeof where, "%s items[%zu]", list, index);
    if (!cJSON_IsObject(item))
        return errf(err, errlen, "%s: not an object", where);
    const cJSON *k = get(item, "kind"); /* list items usually have none */
    if (k && !(cJSON_IsString(k) && strcmp(k->valuestring, kind_name(kind)) == 0))
        return errf(err, errlen, "%s: kind: not %s", where, kind_name(kind));
    const cJSON *meta = get(item, "metadata");
    const cJSON *name = get(meta, "name");
    if (!cJSON_IsObject(meta))
        return errf(err, errlen, "%s: metadata: missing", where);
    if (!name)
        return errf(err, errlen, "%s: metadata.name: missing", where);
    if (!cJSON_IsString(name) || !object_name_valid(name->valuestring)) {
        char d[64];
        describe(name, d, sizeof d);
        return errf(err, errlen, "%s: metadata.name: %s is not an object name", where, d);
    }
    /* From here on the object has a name to be called by. */
    snprintf(where, sizeof where, "%s %s", mig_obj_kind_key(kind), name->valuestring);
    const cJSON *item_ns = get(meta, "namespace");
    if (item_ns && !(cJSON_IsString(item_ns) && strcmp(item_ns->valuestring, ns) == 0))
        return errf(err, errlen, "%s: metadata.namespace: not %s", where, ns);
    const cJSON *spec = get(item, "spec");
    const cJSON *status = get(item, "status");
    if (spec && !cJSON_IsObject(spec))
        return errf(err, errlen, "%s: spec: not an object", where);
    if (status && !cJSON_IsNull(status) && !cJSON_IsObject(status))
        return errf(err, errlen, "%s: status: not an object", where);
    int64_t v[7];
    /* Status counts the API leaves out when they are 0 (omitempty). */
    if (whole(spec, "replicas", MIG_MAX_REPLICAS, 1, &v[0], where, "spec.replicas", err, errlen) ||
        whole(status, "replicas", MIG_MAX_REPLICAS, 0, &v[1], where, "status.replicas", err,
              errlen) ||
        whole(status, "readyReplicas", MIG_MAX_REPLICAS, 0, &v[2], where, "status.readyReplicas",
              err, errlen) ||
        whole(status, "updatedReplicas", MIG_MAX_REPLICAS, 0, &v[3], where,
              "status.updatedReplicas", err, errlen) ||
        whole(status, "availableReplicas", MIG_MAX_REPLICAS, 0, &v[4], where,
              "status.availableReplicas", err, errlen) ||
        whole(meta, "generation", GENERATION_MAX, 0, &v[5], where, "metadata.generation", err,
              errlen) ||
        whole(status, "observedGeneration", GENERATION_MAX, 0, &v[6], where,
              "status.observedGeneration", err, errlen))
        return -1;
    memset(o, 0, sizeof *o);
    o->kind = kind;
    util_strlcpy(o->name, name->valuestring, sizeof o->name);
    o->replicas = (int32_t)v[0];
    o->status_replicas = (int32_t)v[1];
    o->ready_replicas = (int32_t)v[2];
    o->updated_replicas = (int32_t)v[3];
    o->available_replicas = (int32_t)v[4];
    o->generation = v[5];
    o->observed_generation = v[6];
    return 0;
}

/* Appends the items of one DeploymentList or StatefulSetList. */
static int read_list(const cJSON *list, enum mig_obj_kind kind, const char *ns, const char *path,
                     struct mig_ns_state *out, char *err, size_t errlen)
{
    char list_kind[32];
    snprintf(list_kind, sizeof list_kind, "%sList", kind_name(kind));
    const cJSON *k = get(list, "kind");
    const cJSON *items = get(list, "items");
    if (!cJSON_IsObject(list) ||
        (k && !(cJSON_IsString(k) && strcmp(k->valuestring, list_kind) == 0)))
        return errf(err, errlen, "GET %s: the answer is not a %s", path, list_kind);
    if (items && !cJSON_IsNull(items) && !cJSON_IsArray(items))
        return errf(err, errlen, "GET %s: %s items: not an array", path, list_kind);
    size_t first = out->nobjs, index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        if (out->nobjs == MIG_MAX_OBJECTS)
            return errf(err, errlen,
                        "GET %s: more than %d Deployments and StatefulSets in namespace %s", path,
                        MIG_MAX_OBJECTS, ns);
        struct mig_obj *o = &out->objs[out->nobjs];
        if (read_obj(item, kind, ns, list_kind, index, o, err, errlen) != 0)
            return -1;
        /* The API server lists an object once; a second copy would be
         * scaled twice and counted twice at the target. */
        for (size_t j = first; j < out->nobjs; j++)
            if (strcmp(out->objs[j].name, o->name) == 0)
                return errf(err, errlen, "GET %s: %s %s: listed twice", path,
                            mig_obj_kind_key(kind), o->name);
        out->nobjs++;
        index++;
    }
    return 0;
}

static int read_namespace(const cJSON *nsobj, const char *ns, struct mig_ns_state *out, char *err,
                          size_t errlen)
{
    const cJSON *k = get(nsobj, "kind");
    const cJSON *meta = get(nsobj, "metadata");
    const cJSON *name = get(meta, "name");
    if (!cJSON_IsObject(nsobj) ||
        (k && !(cJSON_IsString(k) && strcmp(k->valuestring, "Namespace") == 0)))
        return errf(err, errlen, "GET /api/v1/namespaces/%s: the answer is not a Namespace", ns);
    if (!cJSON_IsString(name) || strcmp(name->valuestring, ns) != 0)
        return errf(err, errlen, "GET /api/v1/namespaces/%s: metadata.name: not %s", ns, ns);
    const cJSON *phase = get(get(nsobj, "status"), "phase");
    if (phase && !cJSON_IsNull(phase) && !cJSON_IsString(phase))
        return errf(err, errlen, "namespace %s: status.phase: not a string", ns);
    const cJSON *deleting = get(meta, "deletionTimestamp");
    out->exists = true;
    out->terminating = (cJSON_IsString(phase) && strcmp(phase->valuestring, "Terminating") == 0) ||
                       (deleting && !cJSON_IsNull(deleting));
    return 0;
}

int mig_kube_read(struct kube_client *kc, const char *ns, int64_t now_ms, struct mig_ns_state *out,
                  char *err, size_t errlen)
{
    out->exists = out->terminating = false;
    out->nobjs = 0;
    if (!kube_name_valid(ns)) {
        char q[48];
        shown(ns ? ns : "", q, sizeof q);
        return errf(err, errlen, "\"%s\" is not a namespace name", q);
    }
    char paths[3][128];
    snprintf(paths[0], sizeof paths[0], "/api/v1/namespaces/%s", ns);
    snprintf(paths[1], sizeof paths[1], "/apis/apps/v1/namespaces/%s/deployments", ns);
    snprintf(paths[2], sizeof paths[2], "/apis/apps/v1/namespaces/%s/statefulsets", ns);
    struct kube_req rs[3] = {{.path = paths[0]}, {.path = paths[1]}, {.path = paths[2]}};
    kube_run_all(kc, rs, 3, now_ms);
    int rc = -1;
    if (rs[0].status == 404) {
        rc = 0; /* no namespace: nothing in it either, whatever the lists said */
        goto out;
    }
    for (int i = 0; i < 3; i++)
        if (!rs[i].json) {
            errf(err, errlen, "%s", rs[i].error);
            goto out;
        }
    if (read_namespace(rs[0].json, ns, out, err, errlen) != 0 ||
        read_list(rs[1].json, MIG_DEPLOYMENT, ns, paths[1], out, err, errlen) != 0 ||
        read_list(rs[2].json, MIG_STATEFULSET, ns, paths[2], out, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0) {
        out->exists = out->terminating = false;
        out->nobjs = 0;
    }
    for (int i = 0; i < 3; i++)
        kube_req_clear(&rs[i]);
    return rc;
}

int mig_kube_scale(struct kube_client *kc, const char *ns, enum mig_obj_kind kind, const char *name,
                   int32_t replicas, int64_t now_ms, char *err, size_t errlen)
{
    char q[48];
    if (!kube_name_valid(ns)) {
        shown(ns ? ns : "", q, sizeof q);
        return errf(err, errlen, "\"%s\" is not a namespace name", q);
    }
    if (!name || !object_name_valid(name)) {
        shown(name ? name : "", q, sizeof q);
        return errf(err, errlen, "\"%s\" is not an object name", q);
    }
    if (replicas < 0 || replicas > MIG_MAX_REPLICAS)
        return errf(err, errlen, "%s %s: %d replicas is not 0..%d", mig_obj_kind_key(kind), name,
                    (int)replicas, MIG_MAX_REPLICAS);
    char path[MIG_OBJ_NAME_MAX + 128], body[64];
    snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/%s/%s/scale", ns,
             mig_obj_kind_resource(kind), name);
    int len = snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%d}}", (int)replicas);
    struct kube_req r = {.method = "PATCH",
                         .path = path,
                         .body = body,
                         .body_len = (size_t)len,
                         .content_type = "application/merge-patch+json"};
    if (kube_run(kc, &r, now_ms) != 0) {
        errf(err, errlen, "%s", r.error);
        kube_req_clear(&r);
        return -1;
    }
    /* The answer is the Scale as stored; autoscaling/v1 leaves out a
     * spec.replicas of 0 (omitempty). */
    int rc = 0;
    const cJSON *k = get(r.json, "kind");
    int64_t stored = 0;
    char where[MIG_OBJ_NAME_MAX + 32];
    snprintf(where, sizeof where, "%s %s", mig_obj_kind_key(kind), name);
    if (!cJSON_IsObject(r.json) ||
        (k && !(cJSON_IsString(k) && strcmp(k->valuestring, "Scale") == 0)))
        rc = errf(err, errlen, "PATCH %s: the answer is not a Scale", path);
    else if (whole(get(r.json, "spec"), "replicas", MIG_MAX_REPLICAS, 0, &stored, where,
                   "Scale spec.replicas", err, errlen) != 0)
        rc = -1;
    else if (stored != replicas)
        rc = errf(err, errlen, "PATCH %s: asked for %d replicas, the Scale says %lld", path,
                  (int)replicas, (long long)stored);
    kube_req_clear(&r);
    return rc;
}

int mig_kube_delete_namespace(struct kube_client *kc, const char *ns, int64_t now_ms, char *err,
                              size_t errlen)
{
    if (!kube_name_valid(ns)) {
        char q[48];
        shown(ns ? ns : "", q, sizeof q);
        return errf(err, errlen, "\"%s\" is not a namespace name", q);
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s", ns);
    struct kube_req r = {.method = "DELETE", .path = path};
    int rc = kube_run(kc, &r, now_ms);
    if (rc != 0 && (r.status == 404 || r.status == 409))
        rc = 0; /* gone already, or already being deleted */
    else if (rc != 0)
        errf(err, errlen, "%s", r.error);
    kube_req_clear(&r);
    return rc;
}

bool mig_obj_ready(const struct mig_obj *o)
{
    int32_t serving = o->kind == MIG_STATEFULSET ? o->ready_replicas : o->available_replicas;
    return o->observed_generation >= o->generation && o->updated_replicas == o->replicas &&
           serving == o->replicas && o->status_replicas == o->replicas;
}

bool mig_obj_scaled_down(const struct mig_obj *o)
{
    return o->replicas == 0 && o->status_replicas == 0;
}
