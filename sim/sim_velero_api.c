/*
 * sim_velero_api — the Kubernetes API of the simulated Velero's objects
 * (sim_velero.h, sim_velero_handle; the token is checked by sim_kube):
 *
 *   /apis/velero.io/v1/namespaces/{ns}/backups[/{name}]   GET POST DELETE PATCH
 *   /apis/velero.io/v1/namespaces/{ns}/restores[/{name}]  GET POST DELETE PATCH
 *   /apis/velero.io/v1/namespaces/{ns}/podvolumebackups[/{name}]     GET
 *   /apis/velero.io/v1/namespaces/{ns}/podvolumerestores[/{name}]    GET
 *   /apis/velero.io/v2alpha1/namespaces/{ns}/datauploads[/{name}]    GET
 *   /apis/velero.io/v2alpha1/namespaces/{ns}/datadownloads[/{name}]  GET
 *   /apis/velero.io/{version}/{plural}                    GET (all namespaces)
 *
 * Custom resources print as the API server prints them: every map's keys
 * sorted, list items with their kind and apiVersion (unlike built-in
 * types), lists {"apiVersion","items","kind","metadata"}. Objects live in
 * the Velero namespace only; in any other namespace lists are empty and
 * writes are 403 (floe's service account has rights in Velero's
 * namespace only).
 */
#include "sim/sim_velero_int.h"

#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_kube.h"
#include "sim/sim_labels.h"
#include "sim/sim_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SEGMENTS 8
#define SEGMENT_MAX 256

struct route {
    enum vkind kind;
    const char *ns;   /* NULL: all namespaces */
    const char *name; /* NULL: the collection */
};

/* ---- answers ---- */

static int reply_obj(const cJSON *o, int code, char **body)
{
    *body = cJSON_PrintUnformatted(o);
    return *body ? code : 500;
}

static int status(char **body, int code, const char *reason, const char *message)
{
    return sim_status_reply(
        body, &(struct sim_status){.code = code, .reason = reason, .message = message});
}

static int status_obj(char **body, int code, const char *reason, const char *fmt, enum vkind k,
                      const char *name)
{
    char msg[600];
    snprintf(msg, sizeof msg, fmt, simv_res[k].plural, name);
    util_utf8_sanitize(msg);
    return sim_status_reply(body, &(struct sim_status){.code = code,
                                                       .reason = reason,
                                                       .message = msg,
                                                       .details = true,
                                                       .name = name,
                                                       .group = "velero.io",
                                                       .kind = simv_res[k].plural});
}

static int not_found_path(char **body)
{
    return sim_status_reply(body, &(struct sim_status){.code = 404,
                                                       .reason = "NotFound",
                                                       .message = "the server could not find "
                                                                  "the requested resource",
                                                       .details = true});
}

static int not_found(char **body, enum vkind k, const char *name)
{
    return status_obj(body, 404, "NotFound", "%s.velero.io \"%s\" not found", k, name);
}

static int not_allowed(char **body)
{
    return sim_status_reply(body, &(struct sim_status){.code = 405,
                                                       .reason = "MethodNotAllowed",
                                                       .message = "the server does not allow this "
                                                                  "method on the requested "
                                                                  "resource",
                                                       .details = true});
}

static int forbidden(char **body, const char *verb, enum vkind k, const char *ns)
{
    char msg[600];
    snprintf(msg, sizeof msg,
             "%s.velero.io is forbidden: User \"floe\" cannot %s resource \"%s\" in API group "
             "\"velero.io\" in the namespace \"%.200s\"",
             simv_res[k].plural, verb, simv_res[k].plural, ns);
    util_utf8_sanitize(msg);
    return sim_status_reply(body, &(struct sim_status){.code = 403,
                                                       .reason = "Forbidden",
                                                       .message = msg,
                                                       .details = true,
                                                       .group = "velero.io",
                                                       .kind = simv_res[k].plural});
}

static int unsupported_media(char **body, bool patch)
{
    return status(body, 415, "UnsupportedMediaType",
                  patch ? "the body of the request was in an unknown format - accepted media "
                          "types include: application/json-patch+json, "
                          "application/merge-patch+json, application/apply-patch+yaml"
                        : "the body of the request was in an unknown format - accepted media "
                          "types include: application/json, application/yaml, "
                          "application/vnd.kubernetes.protobuf");
}

/* ---- paths ---- */

static bool split(const char *path, char seg[][SEGMENT_MAX], int *n)
{
    *n = 0;
    if (*path != '/')
        return false;
    const char *p = path + 1;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || len >= SEGMENT_MAX || *n >= SEGMENTS)
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

static bool find_kind(const char *version, const char *plural, enum vkind *k)
{
    for (int i = 0; i < VK_COUNT; i++) {
        if (strcmp(simv_res[i].version, version) == 0 && strcmp(simv_res[i].plural, plural) == 0) {
            *k = (enum vkind)i;
            return true;
        }
    }
    return false;
}

static bool parse_route(char seg[][SEGMENT_MAX], int n, struct route *r)
{
    if (n < 3 || strcmp(seg[0], "apis") != 0 || strcmp(seg[1], "velero.io") != 0)
        return false;
    if (n == 4)
        return r->ns = NULL, r->name = NULL, find_kind(seg[2], seg[3], &r->kind);
    if ((n == 6 || n == 7) && strcmp(seg[3], "namespaces") == 0) {
        r->ns = seg[4];
        r->name = n == 7 ? seg[6] : NULL;
        return find_kind(seg[2], seg[5], &r->kind);
    }
    return false;
}

/* "application/json; charset=utf-8" is "application/json". */
static bool media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    while (ct && (*ct == ' ' || *ct == '\t'))
        ct++;
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* ---- reads ---- */

static bool labels_match(const struct simc_selector *sel, const cJSON *obj)
{
    struct simc_map m = {0};
    const cJSON *kv;
    cJSON_ArrayForEach(kv, cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"),
                                               "labels")) if (cJSON_IsString(kv))
        simc_map_set(&m, kv->string, kv->valuestring);
    bool ok = simc_selector_matches(sel, &m);
    simc_map_clear(&m);
    return ok;
}

static int list(const struct sim_velero *v, const struct simc_cluster *c, const struct route *r,
                const char *selector, char **body)
{
    struct simc_selector sel;
    char why[512];
    if (simc_selector_parse(&sel, selector ? selector : "", why, sizeof why) < 0)
        return status(body, 400, "BadRequest", why);
    char api[40], rv[24];
    snprintf(api, sizeof api, "velero.io/%s", simv_res[r->kind].version);
    snprintf(rv, sizeof rv, "%" PRIu64, c->resource_version);
    cJSON *o = cJSON_CreateObject();
    cJSON *items = o ? cJSON_AddArrayToObject(o, "items") : NULL;
    cJSON *meta = NULL;
    if (!items || !simv_set_str(o, "apiVersion", api) ||
        !simv_set_str(o, "kind", simv_res[r->kind].list_kind) ||
        !(meta = cJSON_AddObjectToObject(o, "metadata")) || !simv_set_str(meta, "continue", "") ||
        !simv_set_str(meta, "resourceVersion", rv))
        goto oom;
    bool ours = !r->ns || strcmp(r->ns, v->cfg.namespace_) == 0;
    for (size_t i = 0; ours && i < v->nobjs; i++) {
        const struct vobj *ob = &v->objs[i];
        if (ob->kind != r->kind || !labels_match(&sel, ob->obj))
            continue;
        cJSON *dup = cJSON_Duplicate(ob->obj, true);
        if (!dup)
            goto oom;
        cJSON_AddItemToArray(items, dup);
    }
    simv_sort_keys(o);
    simc_selector_free(&sel);
    int code = reply_obj(o, 200, body);
    cJSON_Delete(o);
    return code;
oom:
    simc_selector_free(&sel);
    cJSON_Delete(o);
    return 500;
}

/* ---- writes ---- */

static int bad_body(char **body)
{
    return status(body, 400, "BadRequest",
                  "couldn't get version/kind; json parse error: the body is not valid JSON");
}

static int create(struct sim_velero *v, struct simc_cluster *c, const struct route *r,
                  const struct sim_kube_request *req, char **body)
{
    int64_t now_ms = req->now_ms;
    if (req->content_type && !media_is(req->content_type, "application/json"))
        return unsupported_media(body, false);
    cJSON *obj = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!obj)
        return bad_body(body);
    const struct sim_crd *crd = r->kind == VK_BACKUP ? &v->crd_backup : &v->crd_restore;
    int code;
    cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
    const char *gen = simv_str(meta, "generateName");
    const char *name = simv_str(meta, "name");
    if (cJSON_IsObject(meta) && gen && *gen && (!name || !*name)) {
        char generated[SIMC_DNS_SUBDOMAIN_MAX + 1];
        simv_generate_name(v, gen, generated, sizeof generated);
        simv_set_str(meta, "name", generated);
    }
    const char *ns = simv_str(meta, "namespace");
    if (ns && *ns && strcmp(ns, r->ns) != 0) {
        code = status(body, 400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent "
                      "on the request");
        goto done;
    }
    const char *rv = simv_str(meta, "resourceVersion");
    if (rv && *rv) {
        code = status(body, 400, "BadRequest",
                      "resourceVersion should not be set on objects to be created");
        goto done;
    }
    char *st = NULL;
    code = sim_schema_check(crd, obj, &st);
    if (code) {
        *body = st;
        goto done;
    }
    name = simv_str(cJSON_GetObjectItem(obj, "metadata"), "name");
    if (simv_find(v, r->kind, name)) {
        code = status_obj(body, 409, "AlreadyExists", "%s.velero.io \"%s\" already exists", r->kind,
                          name);
        goto done;
    }
    char key[SIMC_DNS_SUBDOMAIN_MAX + 1];
    util_strlcpy(key, name, sizeof key);
    simv_stamp_new(c, obj, r->ns, now_ms);
    simv_sort_keys(obj);
    struct vobj *o = simv_insert(v, r->kind, key, obj);
    obj = NULL;
    if (!o) {
        code = status(body, 500, "InternalError",
                      "floe-sim: out of memory or too many Velero objects");
        goto done;
    }
    log_info("velero: %s %s created", simv_res[r->kind].kind, key);
    code = reply_obj(o->obj, 201, body);
done:
    cJSON_Delete(obj);
    return code;
}

static int delete_one(struct sim_velero *v, const struct route *r, char **body)
{
    struct vobj *o = simv_find(v, r->kind, r->name);
    if (!o)
        return not_found(body, r->kind, r->name);
    int code = reply_obj(o->obj, 200, body);
    log_info("velero: %s %s deleted", simv_res[r->kind].kind, o->name);
    simv_remove(v, o);
    return code;
}

/* RFC 7386: the patch's members replace the target's, objects merge,
 * null removes. Takes target; returns the result. */
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
        cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(target, m->string);
        if (cJSON_IsNull(m)) {
            cJSON_Delete(old);
            continue;
        }
        cJSON *merged = merge_patch(old, m);
        if (!merged) {
            cJSON_Delete(target);
            return NULL;
        }
        cJSON_AddItemToObject(target, m->string, merged);
    }
    return target;
}

static int patch_one(struct sim_velero *v, struct simc_cluster *c, const struct route *r,
                     const struct sim_kube_request *req, char **body)
{
    if (!media_is(req->content_type, "application/merge-patch+json"))
        return unsupported_media(body, true);
    struct vobj *o = simv_find(v, r->kind, r->name);
    if (!o)
        return not_found(body, r->kind, r->name);
    cJSON *patch = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!patch)
        return status(body, 400, "BadRequest", "error decoding patch: the body is not valid JSON");
    const char *want_rv = simv_str(cJSON_GetObjectItem(patch, "metadata"), "resourceVersion");
    const cJSON *old_meta = cJSON_GetObjectItem(o->obj, "metadata");
    const char *rv = simv_str(old_meta, "resourceVersion");
    int code;
    cJSON *patched = NULL;
    if (want_rv && rv && strcmp(want_rv, rv) != 0) {
        code = status_obj(body, 409, "Conflict",
                          "Operation cannot be fulfilled on %s.velero.io \"%s\": the object has "
                          "been modified; please apply your changes to the latest version and "
                          "try again",
                          r->kind, r->name);
        goto done;
    }
    patched = merge_patch(cJSON_Duplicate(o->obj, true), patch);
    if (!patched) {
        code = 500;
        goto done;
    }
    const char *new_name = simv_str(cJSON_GetObjectItem(patched, "metadata"), "name");
    if (!new_name || strcmp(new_name, r->name) != 0) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "the name of the object (%.253s) does not match the name on the URL (%.253s)",
                 new_name ? new_name : "", r->name);
        code = status(body, 400, "BadRequest", msg);
        goto done;
    }
    /* What the server keeps whatever the patch says. */
    static const char *const kept[] = {"uid", "namespace", "creationTimestamp", "resourceVersion",
                                       "generation"};
    cJSON *meta = simv_child(patched, "metadata");
    for (size_t i = 0; i < ARRAY_LEN(kept); i++) {
        const cJSON *was = cJSON_GetObjectItem(old_meta, kept[i]);
        simv_del(meta, kept[i]);
        if (was)
            cJSON_AddItemToObject(meta, kept[i], cJSON_Duplicate(was, true));
    }
    char *st = NULL;
    code = sim_schema_check(r->kind == VK_BACKUP ? &v->crd_backup : &v->crd_restore, patched, &st);
    if (code) {
        *body = st;
        goto done;
    }
    bool changed = !cJSON_Compare(cJSON_GetObjectItem(patched, "spec"),
                                  cJSON_GetObjectItem(o->obj, "spec"), true) ||
                   !cJSON_Compare(cJSON_GetObjectItem(patched, "status"),
                                  cJSON_GetObjectItem(o->obj, "status"), true);
    bool meta_changed = !cJSON_Compare(patched, o->obj, true);
    simv_sort_keys(patched);
    cJSON_Delete(o->obj);
    o->obj = patched;
    patched = NULL;
    if (meta_changed)
        simv_touch(c, o, changed);
    code = reply_obj(o->obj, 200, body);
done:
    cJSON_Delete(patch);
    cJSON_Delete(patched);
    return code;
}

/* ---- the handler ---- */

int sim_velero_handle(struct sim_velero *v, struct simc_cluster *c,
                      const struct sim_kube_request *req, char **body)
{
    *body = NULL;
    char seg[SEGMENTS][SEGMENT_MAX];
    int n;
    struct route r;
    if (!split(req->path, seg, &n) || !parse_route(seg, n, &r))
        return not_found_path(body);
    bool writable = r.kind == VK_BACKUP || r.kind == VK_RESTORE;
    const char *m = req->method;
    bool get = strcmp(m, "GET") == 0;
    if (!r.ns) {
        if (!get)
            return not_allowed(body);
        return list(v, c, &r, req->label_selector, body);
    }
    bool ours = strcmp(r.ns, v->cfg.namespace_) == 0;
    if (get && !r.name)
        return list(v, c, &r, req->label_selector, body);
    if (get) {
        const struct vobj *o = ours ? simv_find(v, r.kind, r.name) : NULL;
        return o ? reply_obj(o->obj, 200, body) : not_found(body, r.kind, r.name);
    }
    bool post = strcmp(m, "POST") == 0, del = strcmp(m, "DELETE") == 0,
         patch = strcmp(m, "PATCH") == 0;
    if (!writable || (post && r.name) || ((del || patch) && !r.name) || !(post || del || patch))
        return not_allowed(body);
    if (!ours)
        return forbidden(body, post ? "create" : del ? "delete" : "patch", r.kind, r.ns);
    if (post)
        return create(v, c, &r, req, body);
    if (del)
        return delete_one(v, &r, body);
    return patch_one(v, c, &r, req, body);
}
