/*
 * sim_velero_ctl — the simulated Velero's backup and restore controllers
 * (sim_velero_int.h). Each tick moves every object as far as its phase
 * allows at that simulated second; only InProgress and Finalizing take
 * time.
 *
 * Backup (Velero 1.17+ with one concurrent backup, its default):
 *   New -> Queued (status.queuePosition) -> ReadyToStart -> InProgress,
 *   or FailedValidation (an unknown storage location);
 *   InProgress -> Finalizing | FinalizingPartiallyFailed -> Completed |
 *   PartiallyFailed, or -> Failed (an injected fault). One runs at a
 *   time; the rest wait Queued. The record goes to the storage location
 *   when the backup ends (Completed, PartiallyFailed, Failed).
 * Restore (one at a time, the others stay New):
 *   New -> InProgress | FailedValidation -> Finalizing |
 *   FinalizingPartiallyFailed -> Completed | PartiallyFailed, or Failed.
 *
 * Data (SPEC 7): at InProgress a backup runs the pre hooks (which stop
 * the namespace's writes), then captures the namespace's data version if
 * the file-system backup can read the volume (pods running) or the data
 * mover snapshots it; the bytes moved are the whole volume the first time
 * in a location and the data written since the location's previous
 * capture after that. A restore creates what is missing and, at the end
 * of InProgress, gives a namespace the version its backup captured.
 */
#include "sim/sim_velero_int.h"

#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "sim/sim_cluster_snap.h"
#include "sim/sim_labels.h"
#include "sim/sim_sha256.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESTART_BACKUP_REASON                                                                      \
    "found a backup with status \"InProgress\" during the server starting, mark it as \"Failed\""
#define RESTART_RESTORE_REASON                                                                     \
    "found a restore with status \"InProgress\" during the server starting, mark it as \"Failed\""

/* ---- durations ---- */

int64_t simv_parse_duration_ms(const char *s)
{
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (strcmp(s, "0") == 0)
        return 0;
    if (!*s)
        return -1;
    static const struct {
        const char *unit;
        double ms;
    } units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"\xce\xbcs", 1e-3},
                 {"ms", 1},    {"s", 1e3},   {"m", 6e4},          {"h", 3.6e6}};
    double total = 0;
    while (*s) {
        char *end;
        if (!((*s >= '0' && *s <= '9') || *s == '.'))
            return -1;
        double x = strtod(s, &end);
        if (end == s)
            return -1;
        s = end;
        size_t best = 0;
        double scale = 0;
        for (size_t i = 0; i < ARRAY_LEN(units); i++) {
            size_t n = strlen(units[i].unit);
            if (n > best && strncmp(s, units[i].unit, n) == 0) {
                best = n;
                scale = units[i].ms;
            }
        }
        if (!best)
            return -1;
        s += best;
        total += x * scale;
    }
    if (!isfinite(total) || total > 9e15)
        return -1;
    return (int64_t)llround(neg ? -total : total);
}

void simv_format_duration(int64_t ms, char *buf, size_t n)
{
    if (ms == 0) {
        snprintf(buf, n, "0s");
        return;
    }
    const char *sign = ms < 0 ? "-" : "";
    int64_t a = ms < 0 ? -ms : ms;
    if (a < 1000) {
        snprintf(buf, n, "%s%" PRId64 "ms", sign, a);
        return;
    }
    int64_t h = a / 3600000, m = a / 60000 % 60;
    double s = (double)(a % 60000) / 1000.0;
    if (h)
        snprintf(buf, n, "%s%" PRId64 "h%" PRId64 "m%gs", sign, h, m, s);
    else if (m)
        snprintf(buf, n, "%s%" PRId64 "m%gs", sign, m, s);
    else
        snprintf(buf, n, "%s%gs", sign, s);
}

/* ---- small helpers ---- */

static void set_time(const struct simc_cluster *c, cJSON *obj, const char *key, int64_t ms)
{
    char ts[40];
    simv_time(c, ms, ts);
    simv_set_str(obj, key, ts);
}

static bool is_phase(const struct vobj *o, const char *const *phases)
{
    const char *p = simv_phase(o);
    for (; *phases; phases++)
        if (strcmp(p, *phases) == 0)
            return true;
    return false;
}

static const char *const BACKUP_RUNNING[] = {"ReadyToStart",
                                             "InProgress",
                                             "WaitingForPluginOperations",
                                             "WaitingForPluginOperationsPartiallyFailed",
                                             "Finalizing",
                                             "FinalizingPartiallyFailed",
                                             NULL};
static const char *const RESTORE_RUNNING[] = {
    "InProgress", "WaitingForPluginOperations", "WaitingForPluginOperationsPartiallyFailed",
    "Finalizing", "FinalizingPartiallyFailed",  NULL};
static const char *const NEW[] = {"", "New", NULL};
static const char *const FINALIZING[] = {"Finalizing", "FinalizingPartiallyFailed", NULL};
static const char *const IN_PROGRESS[] = {"InProgress", NULL};

static bool any_running(const struct sim_velero *v, enum vkind k, const char *const *phases)
{
    for (size_t i = 0; i < v->nobjs; i++)
        if (v->objs[i].kind == k && is_phase(&v->objs[i], phases))
            return true;
    return false;
}

/* A plain non-negative decimal ("37", "0.5"); false otherwise. */
static bool plain_number(const char *s, double *out)
{
    if (!s || !*s || strspn(s, "0123456789.eE+-") != strlen(s))
        return false;
    char *end;
    double x = strtod(s, &end);
    if (*end || !isfinite(x) || x < 0)
        return false;
    *out = x;
    return true;
}

static double ns_data_gb(const struct simc_namespace *ns)
{
    double gb = 0;
    plain_number(simc_map_get(&ns->meta.annotations, "floe.dev/data-gb"), &gb);
    return gb;
}

/* The delta rate of the namespace's kind of data (the report's three
 * scenarios); a database unless the annotation says otherwise. */
static double delta_rate(const struct simc_namespace *ns, const char **kind)
{
    const char *k = simc_map_get(&ns->meta.annotations, SIMV_ANNOTATION_DATA_KIND);
    if (k && strcmp(k, "large-file") == 0) {
        *kind = "large-file";
        return SIMV_DELTA_LARGE_FILE_GB_PER_MIN;
    }
    if (k && strcmp(k, "small-files") == 0) {
        *kind = "small-files";
        return SIMV_DELTA_SMALL_FILES_GB_PER_MIN;
    }
    *kind = "database";
    return SIMV_DELTA_DATABASE_GB_PER_MIN;
}

static double write_rate(const struct sim_velero *v, const struct simc_namespace *ns)
{
    double r;
    if (plain_number(simc_map_get(&ns->meta.annotations, SIMV_ANNOTATION_WRITE_RATE), &r))
        return r;
    return v->cfg.write_gb_per_min;
}

static int64_t transfer_ms(double gb, double gb_per_min)
{
    return (int64_t)llround(gb / gb_per_min * 60000.0);
}

static bool list_has(const cJSON *list, const char *s)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list) if (cJSON_IsString(it) &&
                                     (strcmp(it->valuestring, s) == 0 ||
                                      strcmp(it->valuestring, "*") == 0)) return true;
    return false;
}

/* A pod volume object (PodVolumeBackup/Restore, DataUpload/Download)
 * made for its owner, waiting to be inserted once the owner is edited
 * (an insert moves the objects). */
struct pending_pv {
    enum vkind kind;
    char name[SIMC_DNS_SUBDOMAIN_MAX + 1];
    cJSON *obj;
    double bytes;
    int64_t from_ms, to_ms;
};

struct pv_list {
    struct pending_pv *v;
    size_t n, cap;
};

static void pv_make(struct sim_velero *v, struct simc_cluster *c, struct pv_list *pl,
                    enum vkind kind, const struct vobj *owner, const char *ns, const char *pod,
                    double bytes, int64_t from_ms, int64_t to_ms, int64_t now_ms)
{
    if (vec_reserve(pl->v, pl->cap, pl->n + 1) < 0)
        return;
    struct pending_pv *p = &pl->v[pl->n];
    char prefix[SIMC_DNS_SUBDOMAIN_MAX + 2];
    snprintf(prefix, sizeof prefix, "%s-", owner->name);
    simv_generate_name(v, prefix, p->name, sizeof p->name);
    const struct vres *r = &simv_res[kind];
    bool backup = kind == VK_PVB || kind == VK_DU;
    const char *owner_uid = simv_str(cJSON_GetObjectItem(owner->obj, "metadata"), "uid");
    const char *spec_loc = simv_str(cJSON_GetObjectItem(owner->obj, "spec"), "storageLocation");
    cJSON *o = cJSON_CreateObject();
    char api[40];
    snprintf(api, sizeof api, "velero.io/%s", r->version);
    simv_set_str(o, "apiVersion", api);
    simv_set_str(o, "kind", r->kind);
    cJSON *meta = simv_child(o, "metadata");
    simv_set_str(meta, "name", p->name);
    simv_set_label(o, backup ? SIMV_LABEL_BACKUP_NAME : SIMV_LABEL_RESTORE_NAME, owner->name);
    simv_set_label(o, backup ? SIMV_LABEL_BACKUP_UID : SIMV_LABEL_RESTORE_UID,
                   owner_uid ? owner_uid : "");
    cJSON *refs = cJSON_AddArrayToObject(meta, "ownerReferences");
    cJSON *ref = cJSON_CreateObject();
    if (refs && ref) {
        cJSON_AddItemToArray(refs, ref);
        simv_set_str(ref, "apiVersion", "velero.io/v1");
        simv_set_str(ref, "kind", simv_res[owner->kind].kind);
        simv_set_str(ref, "name", owner->name);
        simv_set_str(ref, "uid", owner_uid ? owner_uid : "");
        simv_set_bool(ref, "controller", true);
    } else {
        cJSON_Delete(ref);
    }
    cJSON *spec = simv_child(o, "spec");
    simv_set_str(spec, "backupStorageLocation", spec_loc ? spec_loc : v->cfg.storage_location);
    if (kind == VK_PVB || kind == VK_PVR) {
        cJSON *podref = simv_child(spec, "pod");
        simv_set_str(podref, "kind", "Pod");
        simv_set_str(podref, "namespace", ns);
        simv_set_str(podref, "name", pod);
        simv_set_str(spec, "volume", "data");
        simv_set_str(spec, "uploaderType", "kopia");
        if (kind == VK_PVB)
            simv_set_str(spec, "node", "floe-sim-node");
        else
            simv_set_str(spec, "sourceNamespace", ns);
    } else {
        simv_set_str(spec, "datamover", "velero");
        simv_set_str(spec, "sourceNamespace", ns);
        if (kind == VK_DU) {
            simv_set_str(spec, "snapshotType", "CSI");
            simv_set_str(spec, "sourcePVC", "data");
        } else {
            cJSON *tv = simv_child(spec, "targetVolume");
            simv_set_str(tv, "namespace", ns);
            simv_set_str(tv, "pvc", "data");
        }
    }
    cJSON *st = simv_child(o, "status");
    simv_set_str(st, "phase", "New");
    cJSON *prog = simv_child(st, "progress");
    simv_set_num(prog, "totalBytes", floor(bytes));
    simv_set_num(prog, "bytesDone", 0);
    simv_stamp_new(c, o, v->cfg.namespace_, now_ms);
    simv_sort_keys(o);
    p->kind = kind;
    p->obj = o;
    p->bytes = bytes;
    p->from_ms = from_ms;
    p->to_ms = to_ms;
    pl->n++;
}

static void pv_insert_all(struct sim_velero *v, struct pv_list *pl, const char *owner)
{
    for (size_t i = 0; i < pl->n; i++) {
        struct pending_pv *p = &pl->v[i];
        struct vobj *o = simv_insert(v, p->kind, p->name, p->obj);
        if (!o)
            continue;
        util_strlcpy(o->owner, owner, sizeof o->owner);
        o->total_bytes = p->bytes;
        o->from_ms = p->from_ms;
        o->to_ms = p->to_ms;
    }
    free(pl->v);
    pl->v = NULL;
    pl->n = pl->cap = 0;
}

/* Pod volume objects of an owner that have not finished end Failed. */
static void pv_fail_owned(struct sim_velero *v, struct simc_cluster *c, const struct vobj *owner,
                          const char *message, int64_t now_ms)
{
    bool backup = owner->kind == VK_BACKUP;
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *p = &v->objs[i];
        bool owned = backup ? (p->kind == VK_PVB || p->kind == VK_DU)
                            : (p->kind == VK_PVR || p->kind == VK_DD);
        if (!owned || strcmp(p->owner, owner->name) != 0 ||
            strcmp(simv_phase(p), "Completed") == 0 || strcmp(simv_phase(p), "Failed") == 0)
            continue;
        cJSON *st = simv_child(p->obj, "status");
        simv_set_str(st, "phase", "Failed");
        simv_set_str(st, "message", message);
        set_time(c, st, "completionTimestamp", now_ms);
        simv_touch(c, p, true);
    }
}

/* ---- hooks ---- */

struct hooks {
    int pre, post;
};

static int hook_count(const cJSON *list)
{
    return cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
}

/* Does a resource hook of spec.hooks.resources apply to the pods of
 * workload w in namespace ns? Namespaces, resources and matchLabels are
 * honoured (the pods carry app=NAME); matchExpressions are not. */
static bool hook_applies(const cJSON *r, const struct simc_namespace *ns,
                         const struct simc_workload *w)
{
    const cJSON *inc = cJSON_GetObjectItem(r, "includedNamespaces");
    if (hook_count(inc) && !list_has(inc, ns->meta.name))
        return false;
    const cJSON *exc = cJSON_GetObjectItem(r, "excludedNamespaces");
    if (hook_count(exc) && list_has(exc, ns->meta.name))
        return false;
    const cJSON *res = cJSON_GetObjectItem(r, "includedResources");
    if (hook_count(res) && !list_has(res, "pods") && !list_has(res, "pod"))
        return false;
    const cJSON *xres = cJSON_GetObjectItem(r, "excludedResources");
    if (hook_count(xres) && (list_has(xres, "pods") || list_has(xres, "pod")))
        return false;
    const cJSON *match =
        cJSON_GetObjectItem(cJSON_GetObjectItem(r, "labelSelector"), "matchLabels");
    const cJSON *kv;
    cJSON_ArrayForEach(kv, match) if (!cJSON_IsString(kv) || strcmp(kv->string, "app") != 0 ||
                                      strcmp(kv->valuestring, w->meta.name) != 0) return false;
    return true;
}

/* The exec hooks Velero runs in the namespace's pods: a pod's own
 * annotations when it has any (they replace the Backup's hooks for that
 * pod, as in Velero), else every applying resource hook of the spec. */
static struct hooks count_hooks(const cJSON *spec, const struct simc_namespace *ns)
{
    struct hooks h = {0, 0};
    if (ns->phase != SIMC_NS_ACTIVE)
        return h;
    const cJSON *resources = cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "hooks"), "resources");
    for (size_t i = 0; i < ns->nworkloads; i++) {
        const struct simc_workload *w = &ns->workloads[i];
        int pods = w->ready; /* hooks exec into running pods */
        if (pods <= 0)
            continue;
        const char *pre = simc_map_get(&w->pod_annotations, "pre.hook.backup.velero.io/command");
        const char *post = simc_map_get(&w->pod_annotations, "post.hook.backup.velero.io/command");
        if ((pre && *pre) || (post && *post)) {
            h.pre += (pre && *pre) ? pods : 0;
            h.post += (post && *post) ? pods : 0;
            continue;
        }
        const cJSON *r;
        cJSON_ArrayForEach(r, resources)
        {
            if (!hook_applies(r, ns, w))
                continue;
            h.pre += pods * hook_count(cJSON_GetObjectItem(r, "pre"));
            h.post += pods * hook_count(cJSON_GetObjectItem(r, "post"));
        }
    }
    return h;
}

/* ---- backups ---- */

/* The pod whose volume the file-system backup reads: the first running
 * workload's first pod. */
static void pod_name(const struct simc_namespace *ns, char *out, size_t n)
{
    for (size_t i = 0; i < ns->nworkloads; i++) {
        const struct simc_workload *w = &ns->workloads[i];
        if (w->ready > 0 || i + 1 == ns->nworkloads) {
            snprintf(out, n, "%s-0", w->meta.name);
            return;
        }
    }
    snprintf(out, n, "none");
}

/* Which namespaces a backup includes, as names (listed ones that do not
 * exist included: they are errors). */
static bool backup_includes(const cJSON *spec, const char *ns)
{
    const cJSON *inc = cJSON_GetObjectItem(spec, "includedNamespaces");
    const cJSON *exc = cJSON_GetObjectItem(spec, "excludedNamespaces");
    return (!hook_count(inc) || list_has(inc, ns)) && !(hook_count(exc) && list_has(exc, ns));
}

struct capture {
    int items;
    int hooks;         /* pre hooks attempted */
    int64_t cursor_ms; /* the next volume's transfer starts here */
};

/* One namespace at InProgress: hooks, then its data (SPEC 7). The entry
 * is {"name", "snapshot" (sim_cluster_snap.h), "hooks": {"pre", "post"},
 * "data": {"gb", "kind", "version" (null: not captured), "bytes", ...}}
 * ("data" for stateful namespaces only). */
static cJSON *capture_ns(struct sim_velero *v, struct simc_cluster *c, const struct vobj *b,
                         struct simc_namespace *ns, const char *dir, struct capture *cap,
                         struct pv_list *pl, int64_t now_ms)
{
    const cJSON *spec = cJSON_GetObjectItem(b->obj, "spec");
    struct hooks h = count_hooks(spec, ns);
    if (h.pre > 0)
        ns->quiesced = true; /* the pre hooks stop writes before the volume is read */
    cap->hooks += h.pre;
    cap->items += 1 + (int)ns->nworkloads + simc_ns_pods(ns);
    bool stateful = simc_ns_stateful(ns);
    bool fs = cJSON_IsTrue(cJSON_GetObjectItem(spec, "defaultVolumesToFsBackup"));
    bool mover = cJSON_IsTrue(cJSON_GetObjectItem(spec, "snapshotMoveData")) && v->cfg.data_mover;
    bool up = ns->phase == SIMC_NS_ACTIVE && simc_ns_pods_up(ns);
    /* A file-system backup reads a volume only through a running pod
     * (velero #1919); a CSI snapshot moved by the data mover needs none. */
    bool captured = stateful && (mover || (fs && up));
    struct simc_snapshot snap;
    if (simc_ns_snapshot(ns, &snap) < 0)
        return NULL;
    snap.has_data = captured;
    snap.data_version = ns->data_version;
    cJSON *e = cJSON_CreateObject();
    if (!e || !simv_set_str(e, "name", ns->meta.name) ||
        !cJSON_AddItemToObject(e, "snapshot", simc_snapshot_to_json(&snap))) {
        simc_snapshot_free(&snap);
        cJSON_Delete(e);
        return NULL;
    }
    simc_snapshot_free(&snap);
    cJSON *hj = simv_child(e, "hooks");
    simv_set_num(hj, "pre", h.pre);
    simv_set_num(hj, "post", h.post);
    if (!stateful)
        return e;
    const char *kind;
    double rate = delta_rate(ns, &kind);
    double gb = ns_data_gb(ns);
    cJSON *d = simv_child(e, "data");
    simv_set_num(d, "gb", gb);
    simv_set_str(d, "kind", kind);
    if (!captured) {
        cJSON_AddNullToObject(d, "version");
        simv_set_num(d, "bytes", 0);
        simv_set_str(d, "why",
                     !fs && !mover ? "no file-system backup or data mover" : "no pod running");
        return e;
    }
    uint64_t base;
    double moved_gb = gb, per_min = SIMV_INITIAL_GB_PER_MIN;
    if (dir && simv_store_base(dir, ns->meta.name, ns->data_version, &base)) {
        double written_gb = write_rate(v, ns) * (double)(ns->data_version - base) / 60.0;
        moved_gb = written_gb < gb ? written_gb : gb;
        per_min = rate;
        simv_set_num(d, "base_version", (double)base);
    }
    int64_t ms = transfer_ms(moved_gb, per_min);
    simv_set_num(d, "version", (double)ns->data_version);
    simv_set_num(d, "bytes", floor(moved_gb * 1e9));
    simv_set_str(d, "mover", mover ? "data-mover" : "file-system");
    char pod[SIMC_DNS_SUBDOMAIN_MAX + 8];
    pod_name(ns, pod, sizeof pod);
    pv_make(v, c, pl, mover ? VK_DU : VK_PVB, b, ns->meta.name, pod, moved_gb * 1e9, cap->cursor_ms,
            cap->cursor_ms + ms, now_ms);
    cap->cursor_ms += ms;
    return e;
}

static void fail_validation(struct simc_cluster *c, struct vobj *o, const char *why)
{
    cJSON *st = simv_child(o->obj, "status");
    simv_set_str(st, "phase", "FailedValidation");
    cJSON *errs = cJSON_CreateArray();
    if (errs) {
        cJSON_AddItemToArray(errs, cJSON_CreateString(why));
        cJSON_DeleteItemFromObjectCaseSensitive(st, "validationErrors");
        cJSON_AddItemToObject(st, "validationErrors", errs);
    }
    simv_touch(c, o, true);
    log_warn("velero: %s %s FailedValidation: %s", simv_res[o->kind].kind, o->name, why);
}

/* Velero's defaults and the fields it writes when it takes a backup up
 * (prepareBackupRequest). */
static void backup_defaults(struct sim_velero *v, struct simc_cluster *c, struct vobj *b,
                            int64_t now_ms)
{
    cJSON *spec = simv_child(b->obj, "spec");
    cJSON *st = simv_child(b->obj, "status");
    simv_set_num(st, "version", 1);
    simv_set_str(st, "formatVersion", "1.1.0");
    const char *ttl = simv_str(spec, "ttl");
    int64_t ttl_ms = ttl ? simv_parse_duration_ms(ttl) : 0;
    if (ttl_ms <= 0)
        ttl_ms = SIMV_DEFAULT_TTL_MS;
    char buf[48];
    simv_format_duration(ttl_ms, buf, sizeof buf);
    simv_set_str(spec, "ttl", buf);
    if (!simv_str(spec, "csiSnapshotTimeout") ||
        simv_parse_duration_ms(simv_str(spec, "csiSnapshotTimeout")) <= 0)
        simv_set_str(spec, "csiSnapshotTimeout", "10m0s");
    if (!simv_str(spec, "itemOperationTimeout") ||
        simv_parse_duration_ms(simv_str(spec, "itemOperationTimeout")) <= 0)
        simv_set_str(spec, "itemOperationTimeout", "4h0m0s");
    set_time(c, st, "expiration", now_ms + ttl_ms);
    if (!cJSON_IsBool(cJSON_GetObjectItem(spec, "defaultVolumesToFsBackup"))) {
        /* The deprecated field still counts when set (Velero remaps it). */
        bool restic = cJSON_IsTrue(cJSON_GetObjectItem(spec, "defaultVolumesToRestic"));
        simv_set_bool(spec, "defaultVolumesToFsBackup", restic);
    }
    const char *loc = simv_str(spec, "storageLocation");
    if (!loc || !*loc)
        simv_set_str(spec, "storageLocation", v->cfg.storage_location);
    simv_set_label(b->obj, SIMV_LABEL_STORAGE_LOCATION, simv_str(spec, "storageLocation"));
}

static void start_backup(struct sim_velero *v, struct simc_cluster *c, struct vobj *b,
                         int64_t now_ms)
{
    backup_defaults(v, c, b, now_ms);
    cJSON *spec = cJSON_GetObjectItem(b->obj, "spec");
    const char *loc = simv_str(spec, "storageLocation");
    const char *dir = simv_location_dir(v, loc);
    if (!dir) {
        char why[600];
        snprintf(why, sizeof why,
                 "an existing backup storage location wasn't specified at backup creation time "
                 "and the default '%.100s' wasn't found. Please address this issue (see `velero "
                 "backup-location -h` for options) and create a new backup. Error: "
                 "backupstoragelocations.velero.io \"%.100s\" not found",
                 loc, loc);
        fail_validation(c, b, why);
        return;
    }
    cJSON *st = simv_child(b->obj, "status");
    simv_set_str(st, "phase", "InProgress");
    set_time(c, st, "startTimestamp", now_ms);
    /* Listed namespaces that do not exist: an error each (Velero 1.14.1+
     * checks them and ends PartiallyFailed). */
    const cJSON *inc = cJSON_GetObjectItem(spec, "includedNamespaces");
    const cJSON *it;
    b->errors = 0;
    cJSON_ArrayForEach(it, inc)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, "*") != 0 &&
            !simc_ns_find(c, it->valuestring)) {
            b->errors++;
            log_warn("velero: backup %s: namespace %s not found", b->name, it->valuestring);
        }
    }
    cJSON_Delete(b->contents);
    b->contents = cJSON_CreateObject();
    cJSON *list = b->contents ? cJSON_AddArrayToObject(b->contents, "namespaces") : NULL;
    struct capture cap = {.cursor_ms = now_ms};
    struct pv_list pl = {0};
    for (size_t i = 0; list && i < c->nnamespaces; i++) {
        struct simc_namespace *ns = &c->namespaces[i];
        if (!backup_includes(spec, ns->meta.name))
            continue;
        cJSON *e = capture_ns(v, c, b, ns, dir, &cap, &pl, now_ms);
        if (e)
            cJSON_AddItemToArray(list, e);
    }
    cJSON *prog = simv_child(st, "progress");
    simv_set_num(prog, "totalItems", cap.items);
    simv_set_num(prog, "itemsBackedUp", 0);
    if (cap.hooks) {
        cJSON *hs = simv_child(st, "hookStatus");
        simv_set_num(hs, "hooksAttempted", cap.hooks);
    }
    b->until_ms = cap.cursor_ms + SIMV_RESOURCES_MS;
    simv_touch(c, b, true);
    char name[sizeof b->name];
    util_strlcpy(name, b->name, sizeof name);
    log_info("velero: backup %s InProgress, %zu pod volume(s), ends in %" PRId64 " s", name, pl.n,
             (b->until_ms - now_ms) / 1000);
    pv_insert_all(v, &pl, name); /* b may move from here on */
}

/* Post hooks ran after the volumes were read: the namespaces write again. */
static int run_post_hooks(struct simc_cluster *c, const struct vobj *b)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(b->contents, "namespaces"))
    {
        const cJSON *post = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "hooks"), "post");
        struct simc_namespace *ns = simc_ns_find(c, simv_str(e, "name"));
        if (!ns || !cJSON_IsNumber(post) || post->valuedouble <= 0)
            continue;
        ns->quiesced = false;
        n += post->valueint;
    }
    return n;
}

static void add_count(cJSON *obj, const char *key, int n)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    simv_set_num(obj, key, (cJSON_IsNumber(v) ? v->valuedouble : 0) + n);
}

/* Faults consume themselves: "" afterwards. */
static bool take_fault(char *fault, const char *outcome)
{
    if (strcmp(fault, outcome) != 0)
        return false;
    fault[0] = '\0';
    return true;
}

static void end_backup_progress(struct sim_velero *v, struct simc_cluster *c, struct vobj *b,
                                int64_t now_ms)
{
    cJSON *st = simv_child(b->obj, "status");
    int post = run_post_hooks(c, b);
    if (post) {
        cJSON *hs = simv_child(st, "hookStatus");
        add_count(hs, "hooksAttempted", post);
    }
    if (take_fault(v->next_backup, "Failed")) {
        simv_set_str(st, "phase", "Failed");
        simv_set_str(st, "failureReason",
                     "floe-sim: injected failure (POST /sim/set velero.next_backup)");
        set_time(c, st, "completionTimestamp", now_ms);
        simv_touch(c, b, true);
        pv_fail_owned(v, c, b, "the backup failed", now_ms);
        char err[300];
        if (simv_store_write(v, b, err, sizeof err) < 0)
            log_warn("velero: backup %s: %s", b->name, err);
        log_warn("velero: backup %s Failed (injected)", b->name);
        return;
    }
    if (take_fault(v->next_backup, "PartiallyFailed"))
        b->errors++;
    simv_set_str(st, "phase", b->errors ? "FinalizingPartiallyFailed" : "Finalizing");
    cJSON *prog = simv_child(st, "progress");
    const cJSON *total = cJSON_GetObjectItem(prog, "totalItems");
    simv_set_num(prog, "itemsBackedUp", cJSON_IsNumber(total) ? total->valuedouble : 0);
    if (b->errors)
        simv_set_num(st, "errors", b->errors);
    b->until_ms = now_ms + SIMV_FINALIZE_MS;
    simv_touch(c, b, true);
}

static void finish_backup(struct sim_velero *v, struct simc_cluster *c, struct vobj *b,
                          int64_t now_ms)
{
    cJSON *st = simv_child(b->obj, "status");
    bool partial = strcmp(simv_phase(b), "FinalizingPartiallyFailed") == 0;
    simv_set_str(st, "phase", partial ? "PartiallyFailed" : "Completed");
    set_time(c, st, "completionTimestamp", now_ms);
    char err[300];
    if (simv_store_write(v, b, err, sizeof err) < 0) {
        /* Velero fails a backup whose upload fails. */
        simv_set_str(st, "phase", "Failed");
        char why[400];
        snprintf(why, sizeof why, "error uploading backup: %s", err);
        simv_set_str(st, "failureReason", why);
        log_warn("velero: backup %s Failed: %s", b->name, why);
    } else {
        log_info("velero: backup %s %s", b->name, simv_phase(b));
    }
    simv_touch(c, b, true);
}

/* Velero cannot decode a spec whose durations are not Go durations: the
 * object stays as it is (a real Velero logs and skips it). */
static bool decodable(const struct vobj *b)
{
    static const char *const keys[] = {"ttl", "csiSnapshotTimeout", "itemOperationTimeout"};
    const cJSON *spec = cJSON_GetObjectItem(b->obj, "spec");
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const char *s = simv_str(spec, keys[i]);
        if (s && simv_parse_duration_ms(s) < 0)
            return false;
    }
    return true;
}

static int queue_position(const struct vobj *o)
{
    const cJSON *q = cJSON_GetObjectItem(cJSON_GetObjectItem(o->obj, "status"), "queuePosition");
    return cJSON_IsNumber(q) ? q->valueint : 0;
}

void simv_backups_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    int max_pos = 0;
    for (size_t i = 0; i < v->nobjs; i++)
        if (v->objs[i].kind == VK_BACKUP && strcmp(simv_phase(&v->objs[i]), "Queued") == 0 &&
            queue_position(&v->objs[i]) > max_pos)
            max_pos = queue_position(&v->objs[i]);
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *b = &v->objs[i];
        if (b->kind != VK_BACKUP)
            continue;
        if (is_phase(b, NEW) && !b->stuck) {
            if (!decodable(b)) {
                b->stuck = true;
                log_warn("velero: backup %s: a duration in its spec is not a Go duration; "
                         "Velero cannot read it and leaves it New",
                         b->name);
                continue;
            }
            cJSON *st = simv_child(b->obj, "status");
            simv_set_str(st, "phase", "Queued");
            simv_set_num(st, "queuePosition", ++max_pos);
            simv_touch(c, b, true);
        } else if (is_phase(b, IN_PROGRESS) && b->until_ms && now_ms >= b->until_ms) {
            end_backup_progress(v, c, b, now_ms);
        } else if (is_phase(b, FINALIZING) && b->until_ms && now_ms >= b->until_ms) {
            finish_backup(v, c, b, now_ms);
        }
    }
    if (any_running(v, VK_BACKUP, BACKUP_RUNNING))
        return;
    struct vobj *next = NULL;
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *b = &v->objs[i];
        if (b->kind == VK_BACKUP && strcmp(simv_phase(b), "Queued") == 0 &&
            (!next || queue_position(b) < queue_position(next)))
            next = b;
    }
    if (!next)
        return;
    /* Queued -> ReadyToStart (the queue moves up) -> the backup
     * controller, all within the second. */
    simv_set_phase(next, "ReadyToStart");
    simv_del(cJSON_GetObjectItem(next->obj, "status"), "queuePosition");
    simv_touch(c, next, true);
    int pos = 0;
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *b = &v->objs[i];
        if (b->kind == VK_BACKUP && strcmp(simv_phase(b), "Queued") == 0) {
            simv_set_num(simv_child(b->obj, "status"), "queuePosition", ++pos);
            simv_touch(c, b, true);
        }
    }
    start_backup(v, c, next, now_ms);
}

/* ---- restores ---- */

static void velero_labels(struct simc_map *m, const char *backup, const char *restore)
{
    char b[64], r[64];
    sim_velero_label_name(backup, b);
    sim_velero_label_name(restore, r);
    simc_map_set(m, SIMV_LABEL_BACKUP_NAME, b);
    simc_map_set(m, SIMV_LABEL_RESTORE_NAME, r);
}

struct restore_plan {
    int items, errors, warnings;
    int64_t cursor_ms;
};

/* Creates what is missing of one backed-up namespace, labelled as Velero
 * labels what it restores; what exists is skipped with a warning
 * (sim_cluster_snap's restore). Returns the namespace (NULL when it
 * could not be made or is terminating), whether it was created, and
 * whether the backup holds its volume data. */
static struct simc_namespace *restore_objects(struct simc_cluster *c, const cJSON *e,
                                              const char *backup, const char *restore,
                                              struct restore_plan *plan, bool *created,
                                              bool *has_data, int64_t now_ms)
{
    struct simc_snapshot snap;
    char err[400];
    *created = *has_data = false;
    if (simc_snapshot_from_json(&snap, cJSON_GetObjectItem(e, "snapshot"), "snapshot", err,
                                sizeof err) < 0) {
        plan->errors++;
        log_warn("velero: restore %s: %s", restore, err);
        return NULL;
    }
    plan->items += 1 + (int)snap.nworkloads;
    velero_labels(&snap.labels, backup, restore);
    for (size_t i = 0; i < snap.nworkloads; i++)
        velero_labels(&snap.workloads[i].labels, backup, restore);
    struct simc_restore_result res;
    enum simc_err why;
    struct simc_namespace *ns = NULL;
    if (simc_ns_restore(c, &snap, now_ms, &res, &why, err, sizeof err) < 0) {
        /* Velero reports each object it could not create. */
        plan->errors += why == SIMC_ERR_TERMINATING ? 1 + (int)snap.nworkloads : 1;
        log_warn("velero: restore %s: %s", restore, err);
    } else {
        ns = simc_ns_find(c, snap.name);
        *created = res.ns_created;
        *has_data = snap.has_data;
        plan->warnings += (int)res.skipped; /* "already exists": the cluster's stays */
    }
    simc_snapshot_free(&snap);
    return ns;
}

/* What the restore of one namespace's volume moves: the whole volume,
 * or with existingVolumeDataPolicy incremental onto a namespace that has
 * it, only what was written between its version and the backup's. */
static double restore_gb(const struct sim_velero *v, const struct simc_namespace *ns,
                         const cJSON *data, bool created, bool has_data, bool incremental,
                         const char **mode)
{
    const cJSON *ver = cJSON_GetObjectItem(data, "version");
    const cJSON *gbj = cJSON_GetObjectItem(data, "gb");
    double gb = cJSON_IsNumber(gbj) && gbj->valuedouble > 0 ? gbj->valuedouble : 0;
    if (!has_data || !cJSON_IsNumber(ver)) {
        *mode = "none";
        return 0;
    }
    if (created) {
        *mode = "full";
        return gb;
    }
    if (!incremental) {
        *mode = "kept"; /* the volume exists: not overwritten */
        return 0;
    }
    *mode = "incremental";
    uint64_t to = (uint64_t)ver->valuedouble;
    if (ns->data_version > to)
        return gb;
    double written = write_rate(v, ns) * (double)(to - ns->data_version) / 60.0;
    return written < gb ? written : gb;
}

static void start_restore(struct sim_velero *v, struct simc_cluster *c, struct vobj *r,
                          int64_t now_ms)
{
    cJSON *spec = cJSON_GetObjectItem(r->obj, "spec");
    const char *bname = simv_str(spec, "backupName");
    char why[600];
    if (!bname || !*bname) {
        fail_validation(c, r,
                        "Either a backup or schedule must be specified as a source for "
                        "the restore, but not both");
        return;
    }
    const struct vobj *b = simv_find(v, VK_BACKUP, bname);
    if (!b) {
        snprintf(why, sizeof why, "Error retrieving backup: backups.velero.io \"%.253s\" not found",
                 bname);
        fail_validation(c, r, why);
        return;
    }
    const char *bphase = simv_phase(b);
    if (strcmp(bphase, "Completed") != 0 && strcmp(bphase, "PartiallyFailed") != 0) {
        snprintf(why, sizeof why,
                 "backup \"%.253s\" is in phase \"%.40s\": only a Completed or PartiallyFailed "
                 "backup can be restored",
                 bname, bphase);
        fail_validation(c, r, why);
        return;
    }
    const char *loc = simv_str(cJSON_GetObjectItem(b->obj, "spec"), "storageLocation");
    const char *dir = loc ? simv_location_dir(v, loc) : NULL;
    if (!dir) {
        snprintf(why, sizeof why,
                 "Error retrieving backup: backupstoragelocations.velero.io \"%.100s\" not found",
                 loc ? loc : "");
        fail_validation(c, r, why);
        return;
    }
    const char *policy = simv_str(spec, "existingVolumeDataPolicy");
    if (policy && *policy && strcmp(policy, "incremental") != 0) {
        snprintf(why, sizeof why,
                 "invalid existingVolumeDataPolicy \"%.60s\": floe-sim knows \"incremental\"",
                 policy);
        fail_validation(c, r, why);
        return;
    }
    bool incremental = policy && strcmp(policy, "incremental") == 0;
    char backup[sizeof r->name];
    util_strlcpy(backup, bname, sizeof backup);
    cJSON *st = simv_child(r->obj, "status");
    simv_set_str(st, "phase", "InProgress");
    set_time(c, st, "startTimestamp", now_ms);
    char err[400];
    cJSON *rec = simv_store_read(dir, backup, err, sizeof err);
    if (!rec) {
        simv_set_str(st, "phase", "Failed");
        snprintf(why, sizeof why, "error downloading backup: %s", err);
        simv_set_str(st, "failureReason", why);
        set_time(c, st, "completionTimestamp", now_ms);
        simv_touch(c, r, true);
        log_warn("velero: restore %s Failed: %s", r->name, why);
        return;
    }
    const cJSON *inc = cJSON_GetObjectItem(spec, "includedNamespaces");
    const cJSON *exc = cJSON_GetObjectItem(spec, "excludedNamespaces");
    struct restore_plan plan = {.cursor_ms = now_ms};
    struct pv_list pl = {0};
    cJSON_Delete(r->contents);
    r->contents = cJSON_CreateObject();
    cJSON *out = r->contents ? cJSON_AddArrayToObject(r->contents, "namespaces") : NULL;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "contents"), "namespaces"))
    {
        const char *name = simv_str(e, "name");
        if (!out || !name || (hook_count(inc) && !list_has(inc, name)) ||
            (hook_count(exc) && list_has(exc, name)))
            continue;
        bool created, has_data;
        struct simc_namespace *ns =
            restore_objects(c, e, backup, r->name, &plan, &created, &has_data, now_ms);
        if (!ns)
            continue;
        const cJSON *data = cJSON_GetObjectItem(e, "data");
        const char *mode = "none";
        double gb = data ? restore_gb(v, ns, data, created, has_data, incremental, &mode) : 0;
        cJSON *oe = cJSON_CreateObject();
        if (!oe)
            continue;
        cJSON_AddItemToArray(out, oe);
        simv_set_str(oe, "name", name);
        simv_set_bool(oe, "created", created);
        if (!data)
            continue;
        cJSON *d = simv_child(oe, "data");
        const cJSON *ver = cJSON_GetObjectItem(data, "version");
        cJSON_AddItemToObject(d, "version", cJSON_Duplicate(ver, false));
        simv_set_str(d, "mode", mode);
        simv_set_num(d, "bytes", floor(gb * 1e9));
        if (strcmp(mode, "kept") == 0)
            continue;
        if (strcmp(mode, "none") == 0)
            continue; /* an empty volume (nothing captured): there at once */
        /* Pods wait for their volume (Velero's restore-wait init
         * container): no writes, and no data yet, until it is there. */
        ns->quiesced = true;
        if (created)
            ns->data_version = 0;
        int64_t ms = transfer_ms(gb, SIMV_RESTORE_GB_PER_MIN);
        char pod[SIMC_DNS_SUBDOMAIN_MAX + 8];
        pod_name(ns, pod, sizeof pod);
        const char *mover = simv_str(data, "mover");
        pv_make(v, c, &pl, mover && strcmp(mover, "data-mover") == 0 ? VK_DD : VK_PVR, r, name, pod,
                gb * 1e9, plan.cursor_ms, plan.cursor_ms + ms, now_ms);
        plan.cursor_ms += ms;
    }
    cJSON_Delete(rec);
    r->errors = plan.errors;
    r->warnings = plan.warnings;
    cJSON *prog = simv_child(st, "progress");
    simv_set_num(prog, "totalItems", plan.items);
    simv_set_num(prog, "itemsRestored", 0);
    r->until_ms = plan.cursor_ms + SIMV_RESOURCES_MS;
    simv_touch(c, r, true);
    char name[sizeof r->name];
    util_strlcpy(name, r->name, sizeof name);
    log_info("velero: restore %s of %s InProgress, ends in %" PRId64 " s", name, backup,
             (r->until_ms - now_ms) / 1000);
    pv_insert_all(v, &pl, name);
}

/* The end of InProgress: the volumes hold the backup's data now. */
static void end_restore_progress(struct sim_velero *v, struct simc_cluster *c, struct vobj *r,
                                 int64_t now_ms)
{
    cJSON *st = simv_child(r->obj, "status");
    if (take_fault(v->next_restore, "Failed")) {
        simv_set_str(st, "phase", "Failed");
        simv_set_str(st, "failureReason",
                     "floe-sim: injected failure (POST /sim/set velero.next_restore)");
        set_time(c, st, "completionTimestamp", now_ms);
        simv_touch(c, r, true);
        pv_fail_owned(v, c, r, "the restore failed", now_ms);
        log_warn("velero: restore %s Failed (injected)", r->name);
        return;
    }
    if (take_fault(v->next_restore, "PartiallyFailed"))
        r->errors++;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(r->contents, "namespaces"))
    {
        const cJSON *d = cJSON_GetObjectItem(e, "data");
        const char *mode = simv_str(d, "mode");
        if (!mode || strcmp(mode, "none") == 0 || strcmp(mode, "kept") == 0)
            continue;
        struct simc_namespace *ns = simc_ns_find(c, simv_str(e, "name"));
        const cJSON *ver = cJSON_GetObjectItem(d, "version");
        if (!ns || !cJSON_IsNumber(ver)) {
            r->errors++;
            continue;
        }
        ns->data_version = (uint64_t)ver->valuedouble;
        ns->write_carry_ms = 0;
        ns->quiesced = false;
    }
    simv_set_str(st, "phase", r->errors ? "FinalizingPartiallyFailed" : "Finalizing");
    cJSON *prog = simv_child(st, "progress");
    const cJSON *total = cJSON_GetObjectItem(prog, "totalItems");
    simv_set_num(prog, "itemsRestored", cJSON_IsNumber(total) ? total->valuedouble : 0);
    if (r->errors)
        simv_set_num(st, "errors", r->errors);
    if (r->warnings)
        simv_set_num(st, "warnings", r->warnings);
    r->until_ms = now_ms + SIMV_FINALIZE_MS;
    simv_touch(c, r, true);
}

static void finish_restore(struct simc_cluster *c, struct vobj *r, int64_t now_ms)
{
    cJSON *st = simv_child(r->obj, "status");
    bool partial = strcmp(simv_phase(r), "FinalizingPartiallyFailed") == 0;
    simv_set_str(st, "phase", partial ? "PartiallyFailed" : "Completed");
    set_time(c, st, "completionTimestamp", now_ms);
    simv_touch(c, r, true);
    log_info("velero: restore %s %s", r->name, simv_phase(r));
}

static uint64_t created_version(const struct vobj *o)
{
    const char *rv = simv_str(cJSON_GetObjectItem(o->obj, "metadata"), "resourceVersion");
    return rv ? strtoull(rv, NULL, 10) : 0;
}

void simv_restores_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *r = &v->objs[i];
        if (r->kind != VK_RESTORE || !r->until_ms || now_ms < r->until_ms)
            continue;
        if (is_phase(r, IN_PROGRESS))
            end_restore_progress(v, c, r, now_ms);
        else if (is_phase(r, FINALIZING))
            finish_restore(c, r, now_ms);
    }
    if (any_running(v, VK_RESTORE, RESTORE_RUNNING))
        return;
    /* The oldest New restore: the controller's queue is in creation order. */
    struct vobj *next = NULL;
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *r = &v->objs[i];
        if (r->kind == VK_RESTORE && is_phase(r, NEW) &&
            (!next || created_version(r) < created_version(next)))
            next = r;
    }
    if (next)
        start_restore(v, c, next, now_ms);
}

/* ---- pod volume progress ---- */

void simv_volumes_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *p = &v->objs[i];
        if (p->kind == VK_BACKUP || p->kind == VK_RESTORE || now_ms < p->from_ms)
            continue;
        const char *phase = simv_phase(p);
        if (strcmp(phase, "Completed") == 0 || strcmp(phase, "Failed") == 0)
            continue;
        cJSON *st = simv_child(p->obj, "status");
        cJSON *prog = simv_child(st, "progress");
        if (strcmp(phase, "InProgress") != 0) {
            simv_set_str(st, "phase", "InProgress");
            set_time(c, st, "startTimestamp", p->from_ms);
        }
        if (now_ms >= p->to_ms) {
            simv_set_str(st, "phase", "Completed");
            simv_set_num(prog, "bytesDone", floor(p->total_bytes));
            set_time(c, st, "completionTimestamp", p->to_ms);
        } else {
            double f = (double)(now_ms - p->from_ms) / (double)(p->to_ms - p->from_ms);
            simv_set_num(prog, "bytesDone", floor(p->total_bytes * f));
        }
        simv_touch(c, p, true);
    }
}

/* ---- restart ---- */

void simv_restart(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    for (size_t i = 0; i < v->nobjs; i++) {
        struct vobj *o = &v->objs[i];
        if ((o->kind != VK_BACKUP && o->kind != VK_RESTORE) || !is_phase(o, IN_PROGRESS))
            continue;
        bool backup = o->kind == VK_BACKUP;
        cJSON *st = simv_child(o->obj, "status");
        simv_set_str(st, "phase", "Failed");
        simv_set_str(st, "failureReason", backup ? RESTART_BACKUP_REASON : RESTART_RESTORE_REASON);
        set_time(c, st, "completionTimestamp", now_ms);
        o->until_ms = 0;
        simv_touch(c, o, true);
        /* The node agent restarts with it. */
        pv_fail_owned(v, c, o,
                      backup ? "found a podvolumebackup with status \"InProgress\" during the "
                               "server starting, mark it as \"Failed\""
                             : "found a podvolumerestore with status \"InProgress\" during the "
                               "server starting, mark it as \"Failed\"",
                      now_ms);
        log_warn("velero: %s %s: %s", backup ? "backup" : "restore", o->name,
                 backup ? RESTART_BACKUP_REASON : RESTART_RESTORE_REASON);
    }
    /* Velero syncs its storage location as it starts. */
    v->next_sync_ms = now_ms;
}
