/*
 * inventory — see inventory.h.
 */
#include "placement/inventory.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_client.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/vec.h"

#define ANNOTATION_PREFIX "floe.dev/"

/* ---- life ---- */

struct inventory *inv_new(const char *source, int64_t read_ms)
{
    struct inventory *inv = calloc(1, sizeof *inv);
    if (!inv)
        return NULL;
    inv->source = source;
    inv->read_ms = read_ms;
    atomic_init(&inv->extra_refs, 0);
    return inv;
}

struct inventory *inv_ref(struct inventory *inv)
{
    if (inv)
        atomic_fetch_add(&inv->extra_refs, 1);
    return inv;
}

static void workload_clear(struct inv_workload *w)
{
    free(w->name);
    free(w->namespace_);
    free(w->group);
    free(w->hostname);
    free(w->home_site);
    for (size_t i = 0; i < w->nquiesce; i++)
        free(w->quiesce[i]);
    free(w->quiesce);
    for (size_t i = 0; i < w->ncontrollers; i++)
        free(w->controllers[i].name);
    free(w->controllers);
    free(w->unmovable);
    free(w->error);
    memset(w, 0, sizeof *w);
}

void inv_unref(struct inventory *inv)
{
    if (!inv)
        return;
    if (atomic_fetch_sub(&inv->extra_refs, 1) > 0)
        return;
    for (size_t i = 0; i < inv->n; i++)
        workload_clear(&inv->workloads[i]);
    free(inv->workloads);
    free(inv);
}

bool inv_workload_movable(const struct inv_workload *w)
{
    return !w->error && !w->unmovable;
}

const char *inv_workload_reason(const struct inv_workload *w)
{
    return w->error ? w->error : w->unmovable;
}

const struct inv_workload *inv_find(const struct inventory *inv, const char *name)
{
    for (size_t i = 0; inv && i < inv->n; i++)
        if (strcmp(inv->workloads[i].name, name) == 0)
            return &inv->workloads[i];
    return NULL;
}

static struct inv_workload *append(struct inventory *inv, const char *name, const char *ns)
{
    vec_reserve_or_abort(inv->workloads, inv->cap, inv->n + 1);
    struct inv_workload *w = &inv->workloads[inv->n++];
    memset(w, 0, sizeof *w);
    w->name = util_strdup(name);
    w->namespace_ = util_strdup(ns);
    w->priority = INV_DEFAULT_PRIORITY;
    return w;
}

static char **copy_strings(char *const *v, size_t n)
{
    if (!n)
        return NULL;
    char **out = calloc(n, sizeof *out);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++)
        out[i] = util_strdup(v[i]);
    return out;
}

void inv_exclude(struct inv_workload *w, const char *why)
{
    if (!w->error)
        w->error = util_strdup(why);
}

/* ---- static ---- */

void inv_from_static(struct inventory *inv, const struct cfg_workloads *cw)
{
    for (size_t i = 0; i < cw->nstatics; i++) {
        const struct cfg_static_workload *s = &cw->statics[i];
        struct inv_workload *w = append(inv, s->name, s->namespace_ ? s->namespace_ : s->name);
        w->power_kw = s->power_kw;
        w->data_gb = s->data_gb;
        w->priority = s->priority;
        w->stateless = s->stateless;
        w->group = util_strdup(s->group);
        w->hostname = util_strdup(s->hostname);
        w->pinned = s->pinned;
        w->home_site = util_strdup(s->home_site);
        w->quiesce = copy_strings(s->quiesce, s->nquiesce);
        w->nquiesce = s->nquiesce;
    }
}

/* ---- annotation values ---- */

/* Appends "floe.dev/KEY: MESSAGE" to the list of what is wrong. */
static void bad(struct strbuf *why, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad(struct strbuf *why, const char *key, const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strbuf_printf(why, "%s" ANNOTATION_PREFIX "%s: %s", why->len ? "; " : "", key, msg);
}

/* The value as it may be quoted back: control characters replaced, long
 * ones cut. */
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

/* A decimal number >= 0 ("40", "12.5", "1e3"); no sign, no hex, no
 * infinity. */
static int parse_amount(const char *key, const char *v, double *out, struct strbuf *why)
{
    char q[48];
    shown(v, q, sizeof q);
    const char *p = v;
    if (*p == '-') {
        bad(why, key, "\"%s\" is negative (must be >= 0)", q);
        return -1;
    }
    size_t digits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (digits && (*p == 'e' || *p == 'E')) {
        const char *e = p + 1;
        if (*e == '+' || *e == '-')
            e++;
        if (*e >= '0' && *e <= '9') {
            while (*e >= '0' && *e <= '9')
                e++;
            p = e;
        }
    }
    if (!digits || *p) {
        bad(why, key, "\"%s\" is not a number (write it like \"40\" or \"12.5\")", q);
        return -1;
    }
    double d = strtod(v, NULL);
    if (!isfinite(d) || d > 1e12) {
        bad(why, key, "\"%s\" is too large", q);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse_priority(const char *v, int *out, struct strbuf *why)
{
    char q[48];
    shown(v, q, sizeof q);
    size_t n = strlen(v);
    if (n == 0 || n > 4 || strspn(v, "0123456789") != n || atoi(v) > INV_MAX_PRIORITY) {
        bad(why, "priority", "\"%s\" is not a whole number 0..%d", q, INV_MAX_PRIORITY);
        return -1;
    }
    *out = atoi(v);
    return 0;
}

static int parse_bool(const char *key, const char *v, bool *out, struct strbuf *why)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        *out = v[0] == 't';
        return 0;
    }
    char q[48];
    shown(v, q, sizeof q);
    bad(why, key, "\"%s\" must be \"true\" or \"false\"", q);
    return -1;
}

/* A site or group name, as the config names them: at most 64 letters,
 * digits, '_', '-', '.'. */
static int parse_name(const char *key, const char *v, char **out, struct strbuf *why)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64 ||
        strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") != n) {
        char q[48];
        shown(v, q, sizeof q);
        bad(why, key, "\"%s\" is not a name (at most 64 letters, digits, '_', '-', '.')", q);
        return -1;
    }
    *out = util_strdup(v);
    return 0;
}

/* A DNS name: labels of letters, digits and '-', 1..63 each, 253 in all. */
static int parse_hostname(const char *v, char **out, struct strbuf *why)
{
    size_t n = strlen(v), label = 0;
    bool ok = n > 0 && n <= 253;
    for (size_t i = 0; ok && i <= n; i++) {
        char c = v[i];
        if (c == '.' || c == '\0') {
            ok = label > 0 && label <= 63 && v[i - 1] != '-';
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            label++;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        char q[48];
        shown(v, q, sizeof q);
        bad(why, "hostname", "\"%s\" is not a DNS name", q);
        return -1;
    }
    *out = util_strdup(v);
    return 0;
}

/* A JSON array of non-empty strings: the command and its arguments. */
static int parse_quiesce(const char *v, struct inv_workload *w, struct strbuf *why)
{
    cJSON *arr = cJSON_Parse(v);
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    const cJSON *el;
    bool ok = n > 0;
    cJSON_ArrayForEach(el, arr)
    {
        ok = ok && cJSON_IsString(el) && el->valuestring[0];
    }
    if (!ok) {
        bad(why, "quiesce",
            "must be a JSON array of strings, the command and its arguments (e.g. "
            "[\"/sbin/fsfreeze\", \"--freeze\", \"/var/lib/mysql\"])");
        cJSON_Delete(arr);
        return -1;
    }
    w->quiesce = calloc((size_t)n, sizeof *w->quiesce);
    if (!w->quiesce)
        abort();
    cJSON_ArrayForEach(el, arr)
    {
        w->quiesce[w->nquiesce++] = util_strdup(el->valuestring);
    }
    cJSON_Delete(arr);
    return 0;
}

int inv_workload_from_annotations(struct inv_workload *w, const cJSON *annotations)
{
    struct strbuf why = {0};
    bool power = false; /* given, good or bad */
    const cJSON *all = cJSON_IsObject(annotations) ? annotations : NULL;
    const cJSON *a;
    cJSON_ArrayForEach(a, all)
    {
        if (!a->string || strncmp(a->string, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) != 0)
            continue;
        const char *key = a->string + strlen(ANNOTATION_PREFIX);
        if (strcmp(key, "power-kw") == 0)
            power = true;
        if (!cJSON_IsString(a)) {
            bad(&why, key, "must be a string");
            continue;
        }
        const char *v = a->valuestring;
        if (strcmp(key, "power-kw") == 0) {
            parse_amount(key, v, &w->power_kw, &why);
        } else if (strcmp(key, "data-gb") == 0) {
            parse_amount(key, v, &w->data_gb, &why);
        } else if (strcmp(key, "priority") == 0) {
            parse_priority(v, &w->priority, &why);
        } else if (strcmp(key, "stateless") == 0) {
            parse_bool(key, v, &w->stateless, &why);
        } else if (strcmp(key, "pinned") == 0) {
            parse_bool(key, v, &w->pinned, &why);
        } else if (strcmp(key, "group") == 0 && !w->group) {
            parse_name(key, v, &w->group, &why);
        } else if (strcmp(key, "home-site") == 0 && !w->home_site) {
            parse_name(key, v, &w->home_site, &why);
        } else if (strcmp(key, "hostname") == 0 && !w->hostname) {
            parse_hostname(v, &w->hostname, &why);
        } else if (strcmp(key, "quiesce") == 0 && !w->quiesce) {
            parse_quiesce(v, w, &why);
        }
        /* Other floe.dev/ keys (floe.dev/movable is the selector's label)
         * are not this version's to judge. */
    }
    if (!power)
        bad(&why, "power-kw", "missing (the kW this workload draws here; required)");
    if (!why.len)
        return 0;
    char *text = strbuf_take(&why);
    if (!text)
        abort();
    free(w->error);
    w->error = text;
    return -1;
}

/* ---- namespaces ---- */

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct inv_workload *)a)->name, ((const struct inv_workload *)b)->name);
}

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void add_namespace(struct inventory *inv, const cJSON *item, size_t index)
{
    const cJSON *meta = get(item, "metadata");
    const cJSON *name = get(meta, "name");
    char label[96];
    if (!cJSON_IsString(name) || !kube_name_valid(name->valuestring)) {
        char q[48] = "";
        if (cJSON_IsString(name))
            shown(name->valuestring, q, sizeof q);
        snprintf(label, sizeof label, "items[%zu]", index);
        struct inv_workload *w = append(inv, label, label);
        char why[160];
        snprintf(why, sizeof why, "items[%zu].metadata.name: \"%s\" is not a namespace name", index,
                 q);
        inv_exclude(w, why);
        return;
    }
    struct inv_workload *w = append(inv, name->valuestring, name->valuestring);
    const cJSON *phase = get(get(item, "status"), "phase");
    if (get(meta, "deletionTimestamp") ||
        (cJSON_IsString(phase) && strcmp(phase->valuestring, "Terminating") == 0)) {
        inv_exclude(w, "being deleted (Terminating)");
        return;
    }
    inv_workload_from_annotations(w, get(meta, "annotations"));
}

int inv_add_namespaces(struct inventory *inv, const cJSON *list, char *err, size_t errlen)
{
    const cJSON *kind = get(list, "kind");
    const cJSON *items = get(list, "items");
    if (!cJSON_IsObject(list) ||
        (kind && !(cJSON_IsString(kind) && strcmp(kind->valuestring, "NamespaceList") == 0)))
        return errf(err, errlen, "not a NamespaceList");
    if (!cJSON_IsArray(items) && !cJSON_IsNull(items) && items)
        return errf(err, errlen, "NamespaceList: items is not an array");
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        add_namespace(inv, item, i++);
    }
    if (inv->n > 1)
        qsort(inv->workloads, inv->n, sizeof *inv->workloads, by_name);
    /* An API server lists a namespace once; a second one would be moved twice. */
    for (size_t k = 1; k < inv->n; k++)
        if (strcmp(inv->workloads[k].name, inv->workloads[k - 1].name) == 0) {
            inv_exclude(&inv->workloads[k - 1], "listed twice by the API server");
            inv_exclude(&inv->workloads[k], "listed twice by the API server");
        }
    return 0;
}

int inv_add_namespaces_text(struct inventory *inv, const char *text, size_t len, char *err,
                            size_t errlen)
{
    cJSON *list = cJSON_ParseWithLength(text, len);
    if (!list)
        return errf(err, errlen, "not JSON");
    int rc = inv_add_namespaces(inv, list, err, errlen);
    cJSON_Delete(list);
    return rc;
}

/* ---- Deployments and StatefulSets ---- */

/* A DNS-1123 subdomain (an object's name): [a-z0-9.-], at most 253. */
static bool object_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n;
}

static bool mounts_claims(const cJSON *item, bool statefulset)
{
    const cJSON *spec = get(item, "spec");
    const cJSON *templates = get(spec, "volumeClaimTemplates");
    if (statefulset && cJSON_IsArray(templates) && cJSON_GetArraySize(templates) > 0)
        return true;
    const cJSON *vol;
    cJSON_ArrayForEach(vol, get(get(get(spec, "template"), "spec"), "volumes"))
    {
        if (cJSON_IsObject(get(vol, "persistentVolumeClaim")))
            return true;
    }
    return false;
}

static int read_controller(const cJSON *item, const char *kind, struct inv_controller *c, char *err,
                           size_t errlen)
{
    const cJSON *name = get(get(item, "metadata"), "name");
    if (!cJSON_IsString(name) || !object_name_valid(name->valuestring))
        return errf(err, errlen, "metadata.name: not an object name");
    const cJSON *replicas = get(get(item, "spec"), "replicas");
    int n = 1;
    if (replicas && !cJSON_IsNull(replicas)) {
        if (!cJSON_IsNumber(replicas) || replicas->valuedouble < 0 || replicas->valuedouble > 1e6 ||
            floor(replicas->valuedouble) != replicas->valuedouble)
            return errf(err, errlen, "spec.replicas (%s %s): not a whole number >= 0", kind,
                        name->valuestring);
        n = (int)replicas->valuedouble;
    }
    const cJSON *hook = get(get(get(get(item, "spec"), "template"), "metadata"), "annotations");
    hook = get(hook, INV_VELERO_PRE_HOOK);
    c->kind = kind;
    c->name = util_strdup(name->valuestring);
    c->replicas = n;
    c->pod_hook = cJSON_IsString(hook) && hook->valuestring[0];
    c->mounts_volumes = mounts_claims(item, strcmp(kind, "statefulset") == 0);
    return 0;
}

int inv_add_controllers(struct inv_workload *w, const char *kind, const cJSON *list, char *err,
                        size_t errlen)
{
    bool sts = strcmp(kind, "statefulset") == 0;
    const char *list_kind = sts ? "StatefulSetList" : "DeploymentList";
    kind = sts ? "statefulset" : "deployment";
    const cJSON *k = get(list, "kind");
    const cJSON *items = get(list, "items");
    if (!cJSON_IsObject(list) ||
        (k && !(cJSON_IsString(k) && strcmp(k->valuestring, list_kind) == 0)))
        return errf(err, errlen, "not a %s", list_kind);
    if (items && !cJSON_IsNull(items) && !cJSON_IsArray(items))
        return errf(err, errlen, "%s: items is not an array", list_kind);
    size_t before = w->ncontrollers, i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        char why[256];
        vec_reserve_or_abort(w->controllers, w->cap_controllers, w->ncontrollers + 1);
        struct inv_controller *c = &w->controllers[w->ncontrollers];
        memset(c, 0, sizeof *c);
        if (read_controller(item, kind, c, why, sizeof why) != 0) {
            errf(err, errlen, "%s items[%zu].%s", list_kind, i, why);
            while (w->ncontrollers > before)
                free(w->controllers[--w->ncontrollers].name);
            return -1;
        }
        w->ncontrollers++;
        i++;
    }
    return 0;
}

int inv_add_controllers_text(struct inv_workload *w, const char *kind, const char *text, size_t len,
                             char *err, size_t errlen)
{
    cJSON *list = cJSON_ParseWithLength(text, len);
    if (!list)
        return errf(err, errlen, "not JSON");
    int rc = inv_add_controllers(w, kind, list, err, errlen);
    cJSON_Delete(list);
    return rc;
}

/* ---- movable or not ---- */

/* Velero's pre-backup hooks quiesce the workload when at least one pod
 * has one and none that mounts a volume claim goes without. *missing gets
 * the first controller whose volume pods have none. */
static bool pod_hooks_cover(const struct inv_workload *w, const struct inv_controller **missing)
{
    bool any = false;
    *missing = NULL;
    for (size_t i = 0; i < w->ncontrollers; i++) {
        const struct inv_controller *c = &w->controllers[i];
        any = any || c->pod_hook;
        if (c->mounts_volumes && !c->pod_hook && !*missing)
            *missing = c;
    }
    return any && !*missing;
}

void inv_judge(struct inventory *inv, bool data_mover)
{
    bool k8s = inv->source && strcmp(inv->source, "kubernetes") == 0;
    for (size_t i = 0; i < inv->n; i++) {
        struct inv_workload *w = &inv->workloads[i];
        free(w->unmovable);
        w->unmovable = NULL;
        if (w->error)
            continue;
        const struct inv_controller *missing;
        w->has_pod_hooks = pod_hooks_cover(w, &missing);
        struct strbuf why = {0};
        char qwhy[160];
        if (w->pinned) {
            strbuf_printf(&why, "pinned to this site (%s)", k8s ? "floe.dev/pinned" : "pinned");
        } else if (w->nquiesce && cfg_quiesce_check(w->quiesce, w->nquiesce, qwhy, sizeof qwhy)) {
            /* The migrator could not carry it whole, and a cut one would
             * let the final backup run unquiesced. */
            strbuf_printf(&why, "%s (%s)", qwhy, k8s ? "floe.dev/quiesce" : "quiesce");
        } else if (!w->stateless && !w->nquiesce && !w->has_pod_hooks && !data_mover) {
            /* SPEC 6: a file-system backup copies volumes of running pods
             * only, so the final backup runs with the pods up; without a
             * way to stop writes first it could miss some. */
            if (!k8s)
                strbuf_puts(&why, "stateful and cannot be quiesced: no quiesce command");
            else if (missing)
                strbuf_printf(&why,
                              "stateful and cannot be quiesced: no floe.dev/quiesce annotation, "
                              "and the pods of %s %s mount volumes without a Velero pre-backup "
                              "hook (" INV_VELERO_PRE_HOOK ")",
                              missing->kind, missing->name);
            else
                strbuf_puts(&why, "stateful and cannot be quiesced: no floe.dev/quiesce "
                                  "annotation, no Velero pre-backup hook (" INV_VELERO_PRE_HOOK
                                  ") on its pods");
            strbuf_puts(&why, ", and migrator.data_mover is off: its final backup could miss "
                              "writes made while it runs");
        }
        if (why.len) {
            w->unmovable = strbuf_take(&why);
            if (!w->unmovable)
                abort();
        }
    }
}
