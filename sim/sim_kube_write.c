/*
 * sim_kube_write — see sim_kube_write.h.
 *
 * A body goes through decode() into struct obj_in: the fields the
 * simulated objects keep, type-checked (a wrong type is the API server's
 * 400 "cannot be handled as"); values are validated afterwards as its
 * strategies do (422 Invalid with causes). A Scale is patched by
 * printing it, applying the patch to that JSON and reading the result as
 * a PUT body, which is what the API server's patch handler does.
 */
#include "sim/sim_kube_write.h"

#include "lib/util.h"
#include "sim/sim_kube_json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A body's object as far as the simulator keeps it. */
struct obj_in {
    cJSON *root;
    const char *name;      /* metadata.name; NULL when absent */
    const char *namespace; /* metadata.namespace; NULL when absent */
    const char *rv;        /* metadata.resourceVersion; NULL when absent or "" */
    bool has_replicas;
    double replicas; /* spec.replicas, a whole number (range checked later) */
    struct simc_map labels, annotations, pod_annotations;
    bool has_labels, has_annotations;
};

static void obj_in_free(struct obj_in *o)
{
    cJSON_Delete(o->root);
    simc_map_clear(&o->labels);
    simc_map_clear(&o->annotations);
    simc_map_clear(&o->pod_annotations);
}

/* Why a body was refused: 400 (msg) or 422 (one cause). */
struct dec {
    const char *kind;  /* "Deployment", "Scale", "Namespace" */
    const char *group; /* "apps", "autoscaling", NULL */
    int code;
    char msg[600];
    char field[300], cause[600];
};

static int dec_bad(struct dec *d, const char *field, const char *what)
{
    d->code = 400;
    snprintf(d->msg, sizeof d->msg, "%s in version \"v1\" cannot be handled as a %s: %s: %s",
             d->kind, d->kind, field, what);
    return -1;
}

static int dec_invalid(struct dec *d, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int dec_invalid(struct dec *d, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->cause, sizeof d->cause, fmt, ap);
    va_end(ap);
    d->code = 422;
    util_strlcpy(d->field, field, sizeof d->field);
    return -1;
}

/* The Status of a refused body. */
static int dec_answer(const struct dec *d, const char *name, char **body)
{
    if (d->code == 400)
        return sim_kube_bad_request(body, d->msg);
    struct sim_kube_cause cause = {.message = d->cause, .field = d->field};
    if (strncmp(d->cause, "Required value", 14) == 0)
        cause.reason = "FieldValueRequired";
    return sim_kube_invalid(body, d->kind, d->group, name ? name : "", &cause, 1);
}

/* An object of strings into *m; labels are checked as label keys and
 * values, annotations by key. null is an empty map. */
static int decode_map(struct dec *d, const cJSON *v, const char *field, bool labels,
                      struct simc_map *m)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsObject(v))
        return dec_bad(d, field, "expected an object of strings");
    for (const cJSON *it = v->child; it; it = it->next) {
        char why[300];
        if (!cJSON_IsString(it))
            return dec_bad(d, field, "expected an object of strings");
        if (simc_qualified_name_check(it->string, why, sizeof why) < 0)
            return dec_invalid(d, field, "Invalid value: \"%s\": %s", it->string, why);
        if (labels && simc_label_value_check(it->valuestring, why, sizeof why) < 0)
            return dec_invalid(d, field, "Invalid value: \"%s\": %s", it->valuestring, why);
        if (simc_map_set(m, it->string, it->valuestring) < 0)
            return dec_bad(d, field, "out of memory");
    }
    return 0;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static int decode_string(struct dec *d, const cJSON *v, const char *field, const char **out)
{
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return dec_bad(d, field, "expected a string");
    *out = v->valuestring;
    return 0;
}

/* The body as an object of `d->kind`: kind (when given) must match. */
static int decode(struct dec *d, cJSON *root, struct obj_in *o)
{
    memset(o, 0, sizeof *o);
    o->root = root;
    if (!cJSON_IsObject(root)) {
        d->code = 400;
        snprintf(d->msg, sizeof d->msg,
                 "couldn't get version/kind; json parse error: the body is not a JSON object");
        return -1;
    }
    const char *kind = NULL;
    if (decode_string(d, member(root, "kind"), "kind", &kind) < 0)
        return -1;
    if (kind && strcmp(kind, d->kind) != 0) {
        d->code = 400;
        snprintf(d->msg, sizeof d->msg, "the body's kind \"%s\" is not %s, the kind of this path",
                 kind, d->kind);
        return -1;
    }
    const cJSON *meta = member(root, "metadata");
    if (meta && !cJSON_IsNull(meta) && !cJSON_IsObject(meta))
        return dec_bad(d, "metadata", "expected an object");
    if (decode_string(d, member(meta, "name"), "metadata.name", &o->name) < 0 ||
        decode_string(d, member(meta, "namespace"), "metadata.namespace", &o->namespace) < 0 ||
        decode_string(d, member(meta, "resourceVersion"), "metadata.resourceVersion", &o->rv) < 0)
        return -1;
    if (o->rv && !o->rv[0])
        o->rv = NULL;
    o->has_labels = member(meta, "labels") != NULL;
    o->has_annotations = member(meta, "annotations") != NULL;
    if (decode_map(d, member(meta, "labels"), "metadata.labels", true, &o->labels) < 0 ||
        decode_map(d, member(meta, "annotations"), "metadata.annotations", false, &o->annotations) <
            0)
        return -1;
    const cJSON *spec = member(root, "spec");
    if (spec && !cJSON_IsNull(spec) && !cJSON_IsObject(spec))
        return dec_bad(d, "spec", "expected an object");
    const cJSON *r = member(spec, "replicas");
    if (r && !cJSON_IsNull(r)) {
        if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) ||
            fabs(r->valuedouble) > 2147483647.0)
            return dec_bad(d, "spec.replicas", "expected a whole number (int32)");
        o->has_replicas = true;
        o->replicas = r->valuedouble;
    }
    const cJSON *tmeta = member(member(spec, "template"), "metadata");
    return decode_map(d, member(tmeta, "annotations"), "spec.template.metadata.annotations", false,
                      &o->pod_annotations);
}

static bool json_media(const char *ct)
{
    if (!ct)
        return true;
    size_t n = strcspn(ct, "; \t");
    return n == 0 || (n == 16 && strncasecmp(ct, "application/json", n) == 0);
}

static int need_json(const struct sim_kube_body *in, char **body)
{
    static const char *const accepted[] = {"application/json"};
    if (json_media(in->content_type))
        return 0;
    sim_kube_unsupported_media_type(body, accepted, 1);
    return -1;
}

/* Parses in's text and decodes it; 0, or -1 with the answer in *body and
 * its status in *status. */
static int read_body(struct dec *d, const struct sim_kube_body *in, struct obj_in *o, char **body,
                     int *status)
{
    memset(o, 0, sizeof *o);
    if (need_json(in, body) < 0) {
        *status = 415;
        return -1;
    }
    cJSON *root = cJSON_ParseWithLength(in->text, in->len);
    if (!root) {
        *status = sim_kube_bad_request(
            body, "couldn't get version/kind; json parse error: the body is not valid JSON");
        return -1;
    }
    if (decode(d, root, o) < 0) {
        *status = dec_answer(d, o->name, body);
        return -1;
    }
    return 0;
}

static int replicas_check(struct dec *d, const struct obj_in *o)
{
    if (o->has_replicas && o->replicas < 0)
        return dec_invalid(d, "spec.replicas",
                           "Invalid value: %.0f: must be greater than or equal to 0", o->replicas);
    return 0;
}

static int name_check(struct dec *d, const char *name)
{
    char why[300];
    if (!name || !name[0])
        return dec_invalid(d, "metadata.name", "Required value: name or generateName is required");
    if (simc_dns_label_check(name, why, sizeof why) < 0)
        return dec_invalid(d, "metadata.name", "Invalid value: \"%s\": %s", name, why);
    return 0;
}

static bool rv_stale(const struct obj_in *o, const struct simc_meta *m)
{
    char rv[24];
    snprintf(rv, sizeof rv, "%" PRIu64, m->resource_version);
    return o->rv && strcmp(o->rv, rv) != 0;
}

/* Replaces a map when it differs; *changed then set. */
static void replace_map(struct simc_map *dst, struct simc_map *src, bool *changed)
{
    bool same = dst->n == src->n;
    for (size_t i = 0; same && i < src->n; i++) {
        const char *v = simc_map_get(dst, src->pairs[i].key);
        same = v && strcmp(v, src->pairs[i].value) == 0;
    }
    if (same)
        return;
    simc_map_clear(dst);
    *dst = *src;
    memset(src, 0, sizeof *src);
    *changed = true;
}

/* ---- namespaces ---- */

int sim_kube_create_namespace(struct simc_cluster *c, const struct sim_kube_body *in,
                              int64_t now_ms, char **body)
{
    struct dec d = {.kind = "Namespace"};
    struct obj_in o;
    int status;
    if (read_body(&d, in, &o, body, &status) < 0)
        goto done;
    if (name_check(&d, o.name) < 0) {
        status = dec_answer(&d, o.name, body);
        goto done;
    }
    if (simc_ns_find(c, o.name)) {
        status = sim_kube_already_exists(body, "namespaces", NULL, o.name);
        goto done;
    }
    char err[300];
    struct simc_namespace *ns = simc_ns_add(c, o.name, now_ms, err, sizeof err);
    if (!ns) {
        status = sim_kube_internal_error(body, err);
        goto done;
    }
    replace_map(&ns->meta.labels, &o.labels, &(bool){false});
    replace_map(&ns->meta.annotations, &o.annotations, &(bool){false});
    if (simc_ns_fix_labels(ns) < 0) {
        status = sim_kube_internal_error(body, "out of memory");
        goto done;
    }
    status = sim_kube_reply(sim_kube_namespace_json(c, ns, true), 201, body);
done:
    obj_in_free(&o);
    return status;
}

int sim_kube_delete_namespace(struct simc_cluster *c, const char *name, int64_t now_ms, char **body)
{
    struct simc_namespace *ns = simc_ns_find(c, name);
    if (!ns)
        return sim_kube_not_found(body, "namespaces", NULL, name);
    simc_ns_delete(c, ns, now_ms);
    return sim_kube_reply(sim_kube_namespace_json(c, ns, true), 200, body);
}

/* ---- Deployments and StatefulSets ---- */

static int namespace_mismatch(const struct obj_in *o, const char *ns, char **body)
{
    if (!o->namespace || strcmp(o->namespace, ns) == 0)
        return 0;
    return sim_kube_bad_request(
        body, "the namespace of the provided object does not match the namespace sent on the "
              "request");
}

int sim_kube_create_workload(struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                             const struct sim_kube_body *in, int64_t now_ms, char **body)
{
    struct dec d = {.kind = simc_kind_name(kind), .group = "apps"};
    struct obj_in o;
    int status;
    if (read_body(&d, in, &o, body, &status) < 0 ||
        (status = namespace_mismatch(&o, ns_name, body)))
        goto done;
    /* Admission (the namespace's life cycle) before validation. */
    struct simc_namespace *ns = simc_ns_find(c, ns_name);
    if (!ns) {
        status = sim_kube_not_found(body, "namespaces", NULL, ns_name);
        goto done;
    }
    if (ns->phase == SIMC_NS_TERMINATING) {
        char why[300];
        snprintf(why, sizeof why,
                 "unable to create new content in namespace %s because it is being terminated",
                 ns_name);
        status =
            sim_kube_forbidden(body, simc_kind_plural(kind), "apps", o.name ? o.name : "", why);
        goto done;
    }
    if (name_check(&d, o.name) < 0 || replicas_check(&d, &o) < 0) {
        status = dec_answer(&d, o.name, body);
        goto done;
    }
    enum simc_err why;
    char err[300];
    int32_t replicas = o.has_replicas ? (int32_t)o.replicas : 1;
    struct simc_workload *w =
        simc_workload_create(c, ns, kind, o.name, replicas, now_ms, &why, err, sizeof err);
    if (!w) {
        status = why == SIMC_ERR_EXISTS
                     ? sim_kube_already_exists(body, simc_kind_plural(kind), "apps", o.name)
                     : sim_kube_internal_error(body, err);
        goto done;
    }
    replace_map(&w->meta.labels, &o.labels, &(bool){false});
    replace_map(&w->meta.annotations, &o.annotations, &(bool){false});
    replace_map(&w->pod_annotations, &o.pod_annotations, &(bool){false});
    status = sim_kube_reply(sim_kube_workload_json(c, ns, w, true), 201, body);
done:
    obj_in_free(&o);
    return status;
}

/* The namespace and workload of a path, or the 404 in *body. */
static struct simc_workload *find_workload(const struct simc_cluster *c, const char *ns_name,
                                           enum simc_kind kind, const char *name,
                                           struct simc_namespace **ns, char **body, int *status)
{
    *ns = simc_ns_find(c, ns_name);
    struct simc_workload *w = *ns ? simc_workload_find(*ns, kind, name) : NULL;
    if (!w)
        *status = sim_kube_not_found(body, simc_kind_plural(kind), "apps", name);
    return w;
}

static int name_mismatch(const struct obj_in *o, const char *name, char **body)
{
    char msg[600];
    if (o->name && strcmp(o->name, name) == 0)
        return 0;
    snprintf(msg, sizeof msg, "the name of the object (%s) does not match the name on the URL (%s)",
             o->name ? o->name : "", name);
    return sim_kube_bad_request(body, msg);
}

int sim_kube_replace_workload(struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                              const char *name, const struct sim_kube_body *in, int64_t now_ms,
                              char **body)
{
    struct dec d = {.kind = simc_kind_name(kind), .group = "apps"};
    struct obj_in o;
    int status;
    struct simc_namespace *ns;
    struct simc_workload *w;
    if (read_body(&d, in, &o, body, &status) < 0 || (status = name_mismatch(&o, name, body)) ||
        (status = namespace_mismatch(&o, ns_name, body)) ||
        !(w = find_workload(c, ns_name, kind, name, &ns, body, &status)))
        goto done;
    if (rv_stale(&o, &w->meta)) {
        status = sim_kube_conflict(body, simc_kind_plural(kind), "apps", name, SIM_KUBE_MODIFIED);
        goto done;
    }
    if (replicas_check(&d, &o) < 0) {
        status = dec_answer(&d, name, body);
        goto done;
    }
    bool meta_changed = false;
    replace_map(&w->meta.labels, &o.labels, &meta_changed);
    replace_map(&w->meta.annotations, &o.annotations, &meta_changed);
    uint64_t rv = w->meta.resource_version;
    if (simc_workload_set_spec(c, ns, w, o.has_replicas ? (int32_t)o.replicas : 1,
                               &o.pod_annotations, now_ms) < 0) {
        status = sim_kube_internal_error(body, "out of memory");
        goto done;
    }
    if (meta_changed && w->meta.resource_version == rv)
        simc_touch(c, &w->meta);
    status = sim_kube_reply(sim_kube_workload_json(c, ns, w, true), 200, body);
done:
    obj_in_free(&o);
    return status;
}

/* ---- the scale subresource ---- */

int sim_kube_get_scale(const struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                       const char *name, char **body)
{
    struct simc_namespace *ns;
    int status;
    const struct simc_workload *w = find_workload(c, ns_name, kind, name, &ns, body, &status);
    if (!w)
        return status;
    return sim_kube_reply(sim_kube_scale_json(c, ns, w), 200, body);
}

/* A Scale (from a PUT body or a patched Scale) applied to w; takes root. */
static int apply_scale(struct simc_cluster *c, struct simc_namespace *ns, struct simc_workload *w,
                       cJSON *root, int64_t now_ms, char **body)
{
    struct dec d = {.kind = "Scale", .group = "autoscaling"};
    struct obj_in o;
    int status;
    if (decode(&d, root, &o) < 0) {
        status = dec_answer(&d, w->meta.name, body);
        goto done;
    }
    if ((status = name_mismatch(&o, w->meta.name, body)) ||
        (status = namespace_mismatch(&o, ns->meta.name, body)))
        goto done;
    /* The precondition is the workload's version: the Scale is a view of it. */
    if (rv_stale(&o, &w->meta)) {
        status = sim_kube_conflict(body, simc_kind_plural(w->kind), "apps", w->meta.name,
                                   SIM_KUBE_MODIFIED);
        goto done;
    }
    if (replicas_check(&d, &o) < 0) {
        status = dec_answer(&d, w->meta.name, body);
        goto done;
    }
    /* ScaleSpec.replicas is omitempty: absent is 0. */
    if (simc_workload_set_spec(c, ns, w, o.has_replicas ? (int32_t)o.replicas : 0, NULL, now_ms) <
        0) {
        status = sim_kube_internal_error(body, "out of memory");
        goto done;
    }
    status = sim_kube_reply(sim_kube_scale_json(c, ns, w), 200, body);
done:
    obj_in_free(&o);
    return status;
}

int sim_kube_replace_scale(struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                           const char *name, const struct sim_kube_body *in, int64_t now_ms,
                           char **body)
{
    struct simc_namespace *ns;
    int status;
    struct simc_workload *w = find_workload(c, ns_name, kind, name, &ns, body, &status);
    if (!w)
        return status;
    if (need_json(in, body) < 0)
        return 415;
    cJSON *root = cJSON_ParseWithLength(in->text, in->len);
    if (!root)
        return sim_kube_bad_request(
            body, "couldn't get version/kind; json parse error: the body is not valid JSON");
    return apply_scale(c, ns, w, root, now_ms, body);
}

/* RFC 7386 JSON merge patch of target (taken; may be NULL) by patch;
 * returns the result, NULL when out of memory. */
static cJSON *merge_patch(cJSON *target, const cJSON *patch)
{
    if (!cJSON_IsObject(patch)) {
        cJSON_Delete(target);
        return cJSON_Duplicate(patch, true);
    }
    if (!cJSON_IsObject(target)) {
        cJSON_Delete(target);
        target = cJSON_CreateObject();
        if (!target)
            return NULL;
    }
    for (const cJSON *m = patch->child; m; m = m->next) {
        cJSON *cur = cJSON_DetachItemFromObjectCaseSensitive(target, m->string);
        if (cJSON_IsNull(m)) {
            cJSON_Delete(cur);
            continue;
        }
        cJSON *merged = merge_patch(cur, m);
        if (!merged) {
            cJSON_Delete(target);
            return NULL;
        }
        cJSON_AddItemToObject(target, m->string, merged);
    }
    return target;
}

/* ---- RFC 6902 JSON Patch ---- */

/* The container a JSON pointer's last token lives in, and that token
 * (unescaped); NULL when a step does not exist. "" (the whole document)
 * has no parent and is refused. */
static cJSON *pointer_parent(cJSON *doc, const char *ptr, char *last, size_t n)
{
    if (ptr[0] != '/')
        return NULL;
    cJSON *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        size_t len = strcspn(p, "/"), o = 0;
        for (size_t i = 0; i < len && o + 1 < n; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1'))
                last[o++] = p[++i] == '0' ? '~' : '/';
            else
                last[o++] = p[i];
        }
        last[o] = '\0';
        if (!p[len])
            return cur;
        if (cJSON_IsObject(cur))
            cur = cJSON_GetObjectItemCaseSensitive(cur, last);
        else if (cJSON_IsArray(cur) && strspn(last, "0123456789") == strlen(last) && last[0])
            cur = cJSON_GetArrayItem(cur, atoi(last));
        else
            cur = NULL;
        if (!cur)
            return NULL;
        p += len + 1;
    }
}

/* An array index token: 0..size-1 (size with allow_end, and "-" = size). */
static int array_index(const cJSON *arr, const char *tok, bool allow_end)
{
    int size = cJSON_GetArraySize(arr);
    if (allow_end && strcmp(tok, "-") == 0)
        return size;
    if (!tok[0] || strspn(tok, "0123456789") != strlen(tok) || strlen(tok) > 9)
        return -1;
    int i = atoi(tok);
    return i < size || (allow_end && i == size) ? i : -1;
}

static cJSON *pointer_get(cJSON *doc, const char *ptr)
{
    char tok[256];
    if (!ptr[0])
        return doc;
    cJSON *parent = pointer_parent(doc, ptr, tok, sizeof tok);
    if (cJSON_IsObject(parent))
        return cJSON_GetObjectItemCaseSensitive(parent, tok);
    if (cJSON_IsArray(parent)) {
        int i = array_index(parent, tok, false);
        return i < 0 ? NULL : cJSON_GetArrayItem(parent, i);
    }
    return NULL;
}

static cJSON *pointer_remove(cJSON *doc, const char *ptr)
{
    char tok[256];
    cJSON *parent = pointer_parent(doc, ptr, tok, sizeof tok);
    if (cJSON_IsObject(parent))
        return cJSON_DetachItemFromObjectCaseSensitive(parent, tok);
    if (cJSON_IsArray(parent)) {
        int i = array_index(parent, tok, false);
        return i < 0 ? NULL : cJSON_DetachItemFromArray(parent, i);
    }
    return NULL;
}

/* Adds value (taken) at ptr; -1 (value freed) when the place does not exist. */
static int pointer_add(cJSON *doc, const char *ptr, cJSON *value)
{
    char tok[256];
    cJSON *parent = pointer_parent(doc, ptr, tok, sizeof tok);
    if (cJSON_IsObject(parent)) {
        if (cJSON_GetObjectItemCaseSensitive(parent, tok))
            cJSON_ReplaceItemInObjectCaseSensitive(parent, tok, value);
        else
            cJSON_AddItemToObject(parent, tok, value);
        return 0;
    }
    int i = cJSON_IsArray(parent) ? array_index(parent, tok, true) : -1;
    if (i < 0) {
        cJSON_Delete(value);
        return -1;
    }
    if (i == cJSON_GetArraySize(parent))
        cJSON_AddItemToArray(parent, value);
    else
        cJSON_InsertItemInArray(parent, i, value);
    return 0;
}

/* Applies the operations of patch to doc in order; 0, or -1 with why. */
static int json_patch(cJSON *doc, const cJSON *patch, char *why, size_t n)
{
    if (!cJSON_IsArray(patch))
        return errf(why, n, "a JSON patch is an array of operations");
    int i = 0;
    for (const cJSON *op = patch->child; op; op = op->next, i++) {
        const cJSON *name = member(op, "op"), *path = member(op, "path");
        const cJSON *value = member(op, "value"), *from = member(op, "from");
        if (!cJSON_IsString(name) || !cJSON_IsString(path))
            return errf(why, n, "operation %d: needs \"op\" and \"path\" strings", i);
        const char *o = name->valuestring, *p = path->valuestring;
        bool needs_value = !strcmp(o, "add") || !strcmp(o, "replace") || !strcmp(o, "test");
        bool needs_from = !strcmp(o, "move") || !strcmp(o, "copy");
        if ((needs_value && !value) || (needs_from && !cJSON_IsString(from)))
            return errf(why, n, "operation %d (%s): missing \"%s\"", i, o,
                        needs_value ? "value" : "from");
        if (!strcmp(o, "test")) {
            const cJSON *cur = pointer_get(doc, p);
            if (!cur || !cJSON_Compare(cur, value, true))
                return errf(why, n, "testing value %s failed", p);
            continue;
        }
        cJSON *v = NULL;
        if (!strcmp(o, "remove") || !strcmp(o, "replace")) {
            cJSON *old = pointer_remove(doc, p);
            if (!old)
                return errf(why, n, "%s operation does not apply: doc is missing path: \"%s\"", o,
                            p);
            cJSON_Delete(old);
            if (!strcmp(o, "remove"))
                continue;
            v = cJSON_Duplicate(value, true);
        } else if (!strcmp(o, "add")) {
            v = cJSON_Duplicate(value, true);
        } else if (needs_from) {
            v = !strcmp(o, "move") ? pointer_remove(doc, from->valuestring)
                                   : cJSON_Duplicate(pointer_get(doc, from->valuestring), true);
            if (!v)
                return errf(why, n, "%s operation does not apply: doc is missing from path: \"%s\"",
                            o, from->valuestring);
        } else {
            return errf(why, n, "operation %d: unknown op \"%s\"", i, o);
        }
        if (!v)
            return errf(why, n, "out of memory");
        if (pointer_add(doc, p, v) < 0)
            return errf(why, n, "%s operation does not apply: doc is missing path: \"%s\"", o, p);
    }
    return 0;
}

enum patch_type { PATCH_NONE, PATCH_MERGE, PATCH_JSON };

static enum patch_type patch_type(const char *ct)
{
    if (!ct)
        return PATCH_NONE;
    size_t n = strcspn(ct, "; \t");
    if (n == 28 && strncasecmp(ct, "application/merge-patch+json", n) == 0)
        return PATCH_MERGE;
    /* A Scale has no lists, so a strategic merge is a plain merge. */
    if (n == 38 && strncasecmp(ct, "application/strategic-merge-patch+json", n) == 0)
        return PATCH_MERGE;
    if (n == 27 && strncasecmp(ct, "application/json-patch+json", n) == 0)
        return PATCH_JSON;
    return PATCH_NONE;
}

int sim_kube_patch_scale(struct simc_cluster *c, const char *ns_name, enum simc_kind kind,
                         const char *name, const struct sim_kube_body *in, int64_t now_ms,
                         char **body)
{
    static const char *const accepted[] = {"application/json-patch+json",
                                           "application/merge-patch+json",
                                           "application/strategic-merge-patch+json"};
    enum patch_type type = patch_type(in->content_type);
    if (type == PATCH_NONE)
        return sim_kube_unsupported_media_type(body, accepted, 3);
    struct simc_namespace *ns;
    int status;
    struct simc_workload *w = find_workload(c, ns_name, kind, name, &ns, body, &status);
    if (!w)
        return status;
    cJSON *patch = cJSON_ParseWithLength(in->text, in->len);
    if (!patch)
        return sim_kube_bad_request(body, "error decoding patch: the body is not valid JSON");
    cJSON *doc = sim_kube_scale_json(c, ns, w);
    char why[600];
    if (!doc) {
        status = sim_kube_internal_error(body, "out of memory");
    } else if (type == PATCH_MERGE) {
        doc = merge_patch(doc, patch);
        status = doc ? apply_scale(c, ns, w, doc, now_ms, body)
                     : sim_kube_internal_error(body, "out of memory");
        doc = NULL;
    } else if (json_patch(doc, patch, why, sizeof why) < 0) {
        status = sim_kube_fail(
            body, &(struct sim_kube_status){.code = 422, .reason = "Invalid", .message = why});
    } else {
        status = apply_scale(c, ns, w, doc, now_ms, body);
        doc = NULL;
    }
    cJSON_Delete(doc);
    cJSON_Delete(patch);
    return status;
}
