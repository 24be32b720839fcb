/*
 * sim_cluster_edit — see sim_cluster_edit.h.
 *
 * Changes are applied to a clone of the cluster and swapped in only when
 * every part of the body was accepted, the same all-or-nothing rule as
 * /sim/set. A change that leaves an object as it was does not give it a
 * new resourceVersion, as with the API server.
 */
#include "sim/sim_cluster_edit.h"

#include "lib/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 512

struct edit {
    struct simc_cluster *c;
    int64_t now_ms;
    enum simc_edit_error why;
    char *err;
    size_t errlen;
};

static int bad(struct edit *e, enum simc_edit_error why, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int bad(struct edit *e, enum simc_edit_error why, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->why = why;
    return errf(e->err, e->errlen, "%s: %s", path, msg);
}

/* path.key, or path["key"] for keys that are not plain words (label and
 * annotation keys, object names with dots). A path longer than PATH_LEN is
 * cut short; it still points at the right place. */
static void sub(char *out, const char *path, const char *key)
{
    bool word = key[0] != '\0';
    for (const char *p = key; *p; p++)
        word = word && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    if (word)
        snprintf(out, PATH_LEN, "%s%s%s", path, path[0] ? "." : "", key);
    else
        snprintf(out, PATH_LEN, "%s[\"%s\"]", path, key);
}

static int need_object(struct edit *e, const cJSON *v, const char *path)
{
    if (!cJSON_IsObject(v))
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected an object");
    return 0;
}

/* Every member must be in `allowed` (NULL-terminated) and appear once. */
static int check_keys(struct edit *e, const cJSON *obj, const char *const *allowed,
                      const char *path)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        char p[PATH_LEN];
        sub(p, path, it->string);
        bool known = false;
        for (size_t i = 0; allowed && allowed[i]; i++)
            known = known || strcmp(allowed[i], it->string) == 0;
        if (allowed && !known)
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "unknown key");
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return bad(e, SIMC_EDIT_BAD_VALUE, p, "duplicate key");
    }
    return 0;
}

static int parse_token(struct edit *e, const cJSON *v, const char *path)
{
    /* Visible ASCII: it travels in an Authorization header. */
    bool ok = cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) < SIMC_TOKEN_MAX;
    for (const char *p = ok ? v->valuestring : ""; *p; p++)
        ok = ok && *p > ' ' && *p < 0x7f;
    if (!ok)
        return bad(e, SIMC_EDIT_BAD_VALUE, path,
                   "expected 1 to %d visible ASCII characters (no blanks)", SIMC_TOKEN_MAX - 1);
    util_strlcpy(e->c->token, v->valuestring, sizeof e->c->token);
    return 0;
}

/* A map of labels or annotations into *m. With `patch`, null removes a
 * key. *changed is set when *m ends up different. */
static int parse_map(struct edit *e, const cJSON *v, const char *path, bool labels, bool patch,
                     struct simc_map *m, bool *changed)
{
    if (need_object(e, v, path) < 0 || check_keys(e, v, NULL, path) < 0)
        return -1;
    for (const cJSON *it = v->child; it; it = it->next) {
        char p[PATH_LEN], why[256];
        sub(p, path, it->string);
        if (simc_qualified_name_check(it->string, why, sizeof why) < 0)
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "key: %s", why);
        if (patch && cJSON_IsNull(it)) {
            *changed = simc_map_del(m, it->string) || *changed;
            continue;
        }
        if (!cJSON_IsString(it))
            return bad(e, SIMC_EDIT_BAD_VALUE, p,
                       patch ? "expected a string or null" : "expected a string");
        if (labels && simc_label_value_check(it->valuestring, why, sizeof why) < 0)
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "%s", why);
        const char *old = simc_map_get(m, it->string);
        if (old && strcmp(old, it->valuestring) == 0)
            continue;
        if (simc_map_set(m, it->string, it->valuestring) < 0)
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "out of memory");
        *changed = true;
    }
    return 0;
}

static int parse_replicas(struct edit *e, const cJSON *v, const char *path, int32_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 2147483647.0)
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected a whole number 0..2147483647");
    *out = (int32_t)v->valuedouble;
    return 0;
}

static const char *const workload_keys[] = {"name",        "replicas",        "labels",
                                            "annotations", "pod_annotations", NULL};

/* The members of a workload other than its name, new or patched. */
static int apply_workload(struct edit *e, struct simc_namespace *ns, struct simc_workload *w,
                          const cJSON *obj, const char *path, bool patch)
{
    bool meta_changed = false, spec_changed = false;
    char p[PATH_LEN];
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "replicas"))) {
        int32_t n = 0;
        sub(p, path, "replicas");
        if (parse_replicas(e, v, p, &n) < 0)
            return -1;
        spec_changed = n != w->replicas;
        w->replicas = n;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "labels"))) {
        sub(p, path, "labels");
        if (parse_map(e, v, p, true, patch, &w->meta.labels, &meta_changed) < 0)
            return -1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "annotations"))) {
        sub(p, path, "annotations");
        if (parse_map(e, v, p, false, patch, &w->meta.annotations, &meta_changed) < 0)
            return -1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "pod_annotations"))) {
        sub(p, path, "pod_annotations");
        if (parse_map(e, v, p, false, patch, &w->pod_annotations, &spec_changed) < 0)
            return -1;
    }
    if (patch && spec_changed)
        simc_touch_spec(e->c, w);
    else if (patch && meta_changed)
        simc_touch(e->c, &w->meta);
    /* The cluster as the test describes it: pods are as asked, now. */
    simc_workload_settle_now(ns, w);
    return 0;
}

/* "deployments"/"statefulsets" of a new namespace: an array of objects
 * with a name. */
static int add_workloads(struct edit *e, struct simc_namespace *ns, enum simc_kind kind,
                         const cJSON *v, const char *path)
{
    if (!cJSON_IsArray(v))
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected an array");
    int i = 0;
    for (const cJSON *w = v->child; w; w = w->next, i++) {
        char p[PATH_LEN], pn[PATH_LEN], why[300];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (need_object(e, w, p) < 0 || check_keys(e, w, workload_keys, p) < 0)
            return -1;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(w, "name");
        sub(pn, p, "name");
        if (!name)
            return bad(e, SIMC_EDIT_BAD_VALUE, pn, "missing");
        if (!cJSON_IsString(name))
            return bad(e, SIMC_EDIT_BAD_VALUE, pn, "expected a string");
        struct simc_workload *wl =
            simc_workload_add(e->c, ns, kind, name->valuestring, e->now_ms, why, sizeof why);
        if (!wl)
            return bad(e, SIMC_EDIT_BAD_VALUE, pn, "%s", why);
        if (apply_workload(e, ns, wl, w, p, false) < 0)
            return -1;
    }
    return 0;
}

static int add_namespace(struct edit *e, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"name",        "labels",       "annotations",
                                       "deployments", "statefulsets", NULL};
    char p[PATH_LEN], why[300];
    if (need_object(e, obj, path) < 0 || check_keys(e, obj, keys, path) < 0)
        return -1;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    sub(p, path, "name");
    if (!name)
        return bad(e, SIMC_EDIT_BAD_VALUE, p, "missing");
    if (!cJSON_IsString(name))
        return bad(e, SIMC_EDIT_BAD_VALUE, p, "expected a string");
    if (simc_ns_find(e->c, name->valuestring))
        return bad(e, SIMC_EDIT_EXISTS, p, "namespace \"%s\" already exists", name->valuestring);
    struct simc_namespace *ns = simc_ns_add(e->c, name->valuestring, e->now_ms, why, sizeof why);
    if (!ns)
        return bad(e, SIMC_EDIT_BAD_VALUE, p, "%s", why);
    bool changed = false;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "labels"))) {
        sub(p, path, "labels");
        if (parse_map(e, v, p, true, false, &ns->meta.labels, &changed) < 0)
            return -1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "annotations"))) {
        sub(p, path, "annotations");
        if (parse_map(e, v, p, false, false, &ns->meta.annotations, &changed) < 0)
            return -1;
    }
    if (simc_ns_fix_labels(ns) < 0)
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "out of memory");
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "deployments"))) {
        sub(p, path, "deployments");
        if (add_workloads(e, ns, SIMC_DEPLOYMENT, v, p) < 0)
            return -1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "statefulsets"))) {
        sub(p, path, "statefulsets");
        if (add_workloads(e, ns, SIMC_STATEFULSET, v, p) < 0)
            return -1;
    }
    return 0;
}

static int add_namespaces(struct edit *e, const cJSON *v, const char *path)
{
    if (!cJSON_IsArray(v))
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected an array of namespaces");
    int i = 0;
    for (const cJSON *ns = v->child; ns; ns = ns->next, i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (add_namespace(e, ns, p) < 0)
            return -1;
    }
    return 0;
}

static int remove_namespaces(struct edit *e, const cJSON *v, const char *path)
{
    if (!cJSON_IsArray(v))
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected an array of namespace names");
    int i = 0;
    for (const cJSON *n = v->child; n; n = n->next, i++) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (!cJSON_IsString(n))
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "expected a namespace name");
        if (simc_ns_remove(e->c, n->valuestring) < 0)
            return bad(e, SIMC_EDIT_NOT_FOUND, p, "no namespace \"%s\"", n->valuestring);
    }
    return 0;
}

/* "deployments": {"web": {"replicas": 0}} of a namespace patch. */
static int patch_workloads(struct edit *e, struct simc_namespace *ns, enum simc_kind kind,
                           const cJSON *v, const char *path)
{
    static const char *const keys[] = {"replicas", "labels", "annotations", "pod_annotations",
                                       NULL};
    if (need_object(e, v, path) < 0 || check_keys(e, v, NULL, path) < 0)
        return -1;
    for (const cJSON *it = v->child; it; it = it->next) {
        char p[PATH_LEN];
        sub(p, path, it->string);
        struct simc_workload *w = simc_workload_find(ns, kind, it->string);
        if (!w)
            return bad(e, SIMC_EDIT_NOT_FOUND, p, "no %s \"%s\" in namespace \"%s\"",
                       simc_kind_name(kind), it->string, ns->meta.name);
        if (need_object(e, it, p) < 0 || check_keys(e, it, keys, p) < 0 ||
            apply_workload(e, ns, w, it, p, true) < 0)
            return -1;
    }
    return 0;
}

static int patch_namespace(struct edit *e, const cJSON *obj, const char *path)
{
    static const char *const keys[] = {"labels", "annotations", "deployments", "statefulsets",
                                       NULL};
    struct simc_namespace *ns = simc_ns_find(e->c, obj->string);
    if (!ns)
        return bad(e, SIMC_EDIT_NOT_FOUND, path, "no namespace \"%s\"", obj->string);
    if (need_object(e, obj, path) < 0 || check_keys(e, obj, keys, path) < 0)
        return -1;
    char p[PATH_LEN];
    bool changed = false;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "labels"))) {
        sub(p, path, "labels");
        if (parse_map(e, v, p, true, true, &ns->meta.labels, &changed) < 0)
            return -1;
        /* The API server keeps this label whatever a patch says. */
        if (simc_ns_fix_labels(ns) < 0)
            return bad(e, SIMC_EDIT_BAD_VALUE, p, "out of memory");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "annotations"))) {
        sub(p, path, "annotations");
        if (parse_map(e, v, p, false, true, &ns->meta.annotations, &changed) < 0)
            return -1;
    }
    if (changed)
        simc_touch(e->c, &ns->meta);
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "deployments"))) {
        sub(p, path, "deployments");
        if (patch_workloads(e, ns, SIMC_DEPLOYMENT, v, p) < 0)
            return -1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(obj, "statefulsets"))) {
        sub(p, path, "statefulsets");
        if (patch_workloads(e, ns, SIMC_STATEFULSET, v, p) < 0)
            return -1;
    }
    return 0;
}

static int patch_namespaces(struct edit *e, const cJSON *v, const char *path)
{
    if (need_object(e, v, path) < 0 || check_keys(e, v, NULL, path) < 0)
        return -1;
    for (const cJSON *ns = v->child; ns; ns = ns->next) {
        char p[PATH_LEN];
        sub(p, path, ns->string);
        if (patch_namespace(e, ns, p) < 0)
            return -1;
    }
    return 0;
}

/* A delay in simulated seconds: a number 0..86400 (fractions allowed). */
static int parse_delay(struct edit *e, const cJSON *v, const char *path, int64_t *out_ms)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > SIMC_MAX_DELAY_MS / 1000.0)
        return bad(e, SIMC_EDIT_BAD_VALUE, path, "expected a number of seconds 0..%d",
                   SIMC_MAX_DELAY_MS / 1000);
    *out_ms = (int64_t)llround(v->valuedouble * 1000.0);
    return 0;
}

int simc_parse_scenario(struct simc_cluster *c, const cJSON *v, const char *path, char *err,
                        size_t errlen)
{
    static const char *const keys[] = {
        "token", "ready_delay_s", "stop_delay_s", "terminate_delay_s", "namespaces", NULL};
    struct edit e = {.c = c, .now_ms = 0, .err = err, .errlen = errlen};
    char p[PATH_LEN];
    if (need_object(&e, v, path) < 0 || check_keys(&e, v, keys, path) < 0)
        return -1;
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(v, "token");
    sub(p, path, "token");
    if (token && parse_token(&e, token, p) < 0)
        return -1;
    struct {
        const char *key;
        int64_t *ms;
    } delays[] = {{"ready_delay_s", &c->ready_delay_ms},
                  {"stop_delay_s", &c->stop_delay_ms},
                  {"terminate_delay_s", &c->terminate_delay_ms}};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, delays[i].key);
        sub(p, path, delays[i].key);
        if (d && parse_delay(&e, d, p, delays[i].ms) < 0)
            return -1;
    }
    const cJSON *namespaces = cJSON_GetObjectItemCaseSensitive(v, "namespaces");
    sub(p, path, "namespaces");
    if (namespaces && add_namespaces(&e, namespaces, p) < 0)
        return -1;
    return 0;
}

const char *simc_edit_error_code(enum simc_edit_error e)
{
    switch (e) {
    case SIMC_EDIT_BAD_JSON:
        return "bad_json";
    case SIMC_EDIT_BAD_VALUE:
        return "bad_value";
    case SIMC_EDIT_NOT_FOUND:
        return "not_found";
    case SIMC_EDIT_EXISTS:
        return "exists";
    }
    return "bad_request";
}

int simc_edit_error_status(enum simc_edit_error e)
{
    switch (e) {
    case SIMC_EDIT_NOT_FOUND:
        return 404;
    case SIMC_EDIT_EXISTS:
        return 409;
    case SIMC_EDIT_BAD_JSON:
    case SIMC_EDIT_BAD_VALUE:
        break;
    }
    return 400;
}

int simc_edit(struct simc_cluster *c, const char *body, size_t len, int64_t now_ms,
              enum simc_edit_error *why, char *err, size_t errlen)
{
    static const char *const keys[] = {"add", "remove", "patch", "token", NULL};
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        *why = SIMC_EDIT_BAD_JSON;
        return errf(err, errlen, "body is not valid JSON");
    }
    struct simc_cluster trial;
    int rc = -1;
    bool cloned = false;
    struct edit e = {.c = &trial, .now_ms = now_ms, .err = err, .errlen = errlen};
    if (!cJSON_IsObject(root)) {
        e.why = SIMC_EDIT_BAD_JSON;
        errf(err, errlen,
             "body must be an object with \"add\", \"remove\", \"patch\" or \"token\", e.g. "
             "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": 0}}}}}");
        goto done;
    }
    if (check_keys(&e, root, keys, "") < 0)
        goto done;
    if (simc_clone(&trial, c) < 0) {
        e.why = SIMC_EDIT_BAD_VALUE;
        errf(err, errlen, "out of memory");
        goto done;
    }
    cloned = true;
    for (const cJSON *it = root->child; it; it = it->next) {
        int r;
        if (strcmp(it->string, "add") == 0)
            r = add_namespaces(&e, it, "add");
        else if (strcmp(it->string, "remove") == 0)
            r = remove_namespaces(&e, it, "remove");
        else if (strcmp(it->string, "patch") == 0)
            r = patch_namespaces(&e, it, "patch");
        else
            r = parse_token(&e, it, "token");
        if (r < 0)
            goto done;
    }
    simc_clear(c);
    *c = trial;
    cloned = false;
    rc = 0;
done:
    if (cloned)
        simc_clear(&trial);
    if (rc < 0)
        *why = e.why;
    cJSON_Delete(root);
    return rc;
}

/* ---- /sim/set ---- */

static const char *const delay_names[] = {"cluster.ready_delay_s", "cluster.stop_delay_s",
                                          "cluster.terminate_delay_s"};

static int64_t *setting_delay(struct simc_cluster *c, const char *name)
{
    int64_t *const delays[] = {&c->ready_delay_ms, &c->stop_delay_ms, &c->terminate_delay_ms};
    for (size_t i = 0; i < sizeof delay_names / sizeof delay_names[0]; i++)
        if (strcmp(name, delay_names[i]) == 0)
            return delays[i];
    return NULL;
}

static bool is_delay(const char *name)
{
    for (size_t i = 0; i < sizeof delay_names / sizeof delay_names[0]; i++)
        if (strcmp(name, delay_names[i]) == 0)
            return true;
    return false;
}

bool simc_setting_name(const char *name)
{
    return strcmp(name, "cluster.never_ready") == 0 || is_delay(name);
}

int simc_setting_check(const char *name, const cJSON *v, char *err, size_t errlen)
{
    struct edit e = {.err = err, .errlen = errlen};
    int64_t ms;
    char why[300];
    if (is_delay(name))
        return parse_delay(&e, v, name, &ms);
    if (strcmp(name, "cluster.never_ready") != 0)
        return errf(err, errlen, "unknown value '%s'", name);
    if (cJSON_IsNull(v) || (cJSON_IsString(v) && !v->valuestring[0]))
        return 0;
    if (!cJSON_IsString(v))
        return errf(err, errlen, "%s: expected a namespace name, or \"\" or null for none", name);
    if (simc_dns_label_check(v->valuestring, why, sizeof why) < 0)
        return errf(err, errlen, "%s: \"%s\": %s", name, v->valuestring, why);
    return 0;
}

void simc_setting_apply(struct simc_cluster *c, const char *name, const cJSON *v)
{
    int64_t *delay = setting_delay(c, name);
    if (delay)
        *delay = (int64_t)llround(v->valuedouble * 1000.0);
    else
        util_strlcpy(c->never_ready, cJSON_IsString(v) ? v->valuestring : "",
                     sizeof c->never_ready);
}

/* ---- GET /sim/cluster ---- */

static cJSON *workload_state(const struct simc_workload *w)
{
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "kind", simc_kind_name(w->kind)) ||
        !cJSON_AddStringToObject(o, "name", w->meta.name) ||
        !cJSON_AddNumberToObject(o, "replicas", w->replicas) ||
        !cJSON_AddNumberToObject(o, "pods", w->pods) ||
        !cJSON_AddNumberToObject(o, "ready", w->ready) ||
        !cJSON_AddBoolToObject(o, "rolled_out", simc_workload_ready(w))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *namespace_state(const struct simc_namespace *ns)
{
    int32_t ready = 0;
    for (size_t i = 0; i < ns->nworkloads; i++)
        ready += ns->workloads[i].ready;
    bool counted = ns->phase == SIMC_NS_ACTIVE && simc_ns_running(ns);
    cJSON *o = cJSON_CreateObject();
    cJSON *wl = NULL;
    if (!o || !cJSON_AddStringToObject(o, "name", ns->meta.name) ||
        !cJSON_AddStringToObject(o, "phase", simc_ns_phase_name(ns->phase)) ||
        !cJSON_AddBoolToObject(o, "running", simc_ns_running(ns)) ||
        !cJSON_AddNumberToObject(o, "pods", simc_ns_pods(ns)) ||
        !cJSON_AddNumberToObject(o, "ready", ready) ||
        !cJSON_AddNumberToObject(o, "kw", counted ? simc_ns_power_kw(ns) : 0) ||
        !cJSON_AddBoolToObject(o, "stateful", simc_ns_stateful(ns)) ||
        !cJSON_AddNumberToObject(o, "data_version", (double)ns->data_version) ||
        !cJSON_AddBoolToObject(o, "writing", simc_ns_writing(ns)) ||
        !cJSON_AddBoolToObject(o, "quiesced", ns->quiesced) ||
        !(wl = cJSON_AddArrayToObject(o, "workloads")))
        goto fail;
    for (size_t i = 0; i < ns->nworkloads; i++) {
        cJSON *w = workload_state(&ns->workloads[i]);
        if (!w)
            goto fail;
        cJSON_AddItemToArray(wl, w);
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *simc_state_json(const struct simc_cluster *c, int64_t now_ms)
{
    char *out = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *list = NULL;
    if (!o || !cJSON_AddNumberToObject(o, "time_s", (double)(now_ms / 1000)) ||
        !cJSON_AddNumberToObject(o, "it_cluster_kw", simc_running_kw(c)) ||
        !cJSON_AddStringToObject(o, "never_ready", c->never_ready) ||
        !(list = cJSON_AddArrayToObject(o, "namespaces")))
        goto done;
    for (size_t i = 0; i < c->nnamespaces; i++) {
        cJSON *ns = namespace_state(&c->namespaces[i]);
        if (!ns)
            goto done;
        cJSON_AddItemToArray(list, ns);
    }
    out = cJSON_PrintUnformatted(o);
done:
    cJSON_Delete(o);
    return out;
}
