/*
 * sim_velero_obj — the simulated Velero's object store (sim_velero_int.h):
 * every object is kept as the JSON the API serves, so what a client wrote
 * stays as written (Velero's CRDs have no status subresource: a client
 * may even write status), and the controllers edit that JSON in place.
 */
#include "sim/sim_velero_int.h"

#include "lib/util.h"
#include "lib/vec.h"
#include "sim/sim_sha256.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct vres simv_res[VK_COUNT] = {
    [VK_BACKUP] = {"v1", "backups", "Backup", "BackupList"},
    [VK_RESTORE] = {"v1", "restores", "Restore", "RestoreList"},
    [VK_PVB] = {"v1", "podvolumebackups", "PodVolumeBackup", "PodVolumeBackupList"},
    [VK_PVR] = {"v1", "podvolumerestores", "PodVolumeRestore", "PodVolumeRestoreList"},
    [VK_DU] = {"v2alpha1", "datauploads", "DataUpload", "DataUploadList"},
    [VK_DD] = {"v2alpha1", "datadownloads", "DataDownload", "DataDownloadList"},
};

static int obj_cmp(const struct vobj *o, enum vkind k, const char *name)
{
    if (o->kind != k)
        return o->kind < k ? -1 : 1;
    return strcmp(o->name, name);
}

struct vobj *simv_find(const struct sim_velero *v, enum vkind k, const char *name)
{
    for (size_t i = 0; i < v->nobjs; i++)
        if (obj_cmp(&v->objs[i], k, name) == 0)
            return &v->objs[i];
    return NULL;
}

struct vobj *simv_insert(struct sim_velero *v, enum vkind k, const char *name, cJSON *obj)
{
    if (v->nobjs >= SIMV_MAX_OBJECTS || strlen(name) >= sizeof v->objs[0].name ||
        vec_reserve(v->objs, v->cap, v->nobjs + 1) < 0) {
        cJSON_Delete(obj);
        return NULL;
    }
    size_t pos = 0;
    while (pos < v->nobjs && obj_cmp(&v->objs[pos], k, name) < 0)
        pos++;
    memmove(&v->objs[pos + 1], &v->objs[pos], (v->nobjs - pos) * sizeof *v->objs);
    struct vobj *o = &v->objs[pos];
    memset(o, 0, sizeof *o);
    o->kind = k;
    util_strlcpy(o->name, name, sizeof o->name);
    o->obj = obj;
    v->nobjs++;
    return o;
}

static void remove_at(struct sim_velero *v, size_t pos)
{
    cJSON_Delete(v->objs[pos].obj);
    cJSON_Delete(v->objs[pos].contents);
    memmove(&v->objs[pos], &v->objs[pos + 1], (v->nobjs - pos - 1) * sizeof *v->objs);
    v->nobjs--;
}

void simv_remove(struct sim_velero *v, struct vobj *o)
{
    enum vkind owner_kind = o->kind;
    char owner[sizeof o->name];
    util_strlcpy(owner, o->name, sizeof owner);
    remove_at(v, (size_t)(o - v->objs));
    if (owner_kind != VK_BACKUP && owner_kind != VK_RESTORE)
        return;
    for (size_t i = v->nobjs; i-- > 0;) {
        const struct vobj *p = &v->objs[i];
        bool owned = owner_kind == VK_BACKUP ? (p->kind == VK_PVB || p->kind == VK_DU)
                                             : (p->kind == VK_PVR || p->kind == VK_DD);
        if (owned && strcmp(p->owner, owner) == 0)
            remove_at(v, i);
    }
}

void simv_time(const struct simc_cluster *c, int64_t ms, char buf[40])
{
    int64_t wall = c->epoch_ms + ms;
    util_format_rfc3339(wall - ((wall % 1000) + 1000) % 1000, buf, 40);
}

bool simv_time_of(const struct simc_cluster *c, const cJSON *obj, const char *key, int64_t *ms)
{
    const char *s = simv_str(obj, key);
    int64_t wall;
    if (!s || util_parse_time_ms(s, &wall) < 0)
        return false;
    *ms = wall - c->epoch_ms;
    return true;
}

cJSON *simv_child(cJSON *obj, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsObject(o))
        return o;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    return cJSON_AddObjectToObject(obj, key);
}

static bool replace(cJSON *obj, const char *key, cJSON *item)
{
    if (!item || !obj)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    return cJSON_AddItemToObject(obj, key, item);
}

bool simv_set_str(cJSON *obj, const char *key, const char *value)
{
    return replace(obj, key, cJSON_CreateString(value));
}

bool simv_set_num(cJSON *obj, const char *key, double value)
{
    return replace(obj, key, cJSON_CreateNumber(value));
}

bool simv_set_bool(cJSON *obj, const char *key, bool value)
{
    return replace(obj, key, cJSON_CreateBool(value));
}

void simv_del(cJSON *obj, const char *key)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

const char *simv_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *simv_phase(const struct vobj *o)
{
    const char *p = simv_str(cJSON_GetObjectItemCaseSensitive(o->obj, "status"), "phase");
    return p ? p : "";
}

bool simv_set_phase(struct vobj *o, const char *phase)
{
    return simv_set_str(simv_child(o->obj, "status"), "phase", phase);
}

bool simv_set_label(cJSON *obj, const char *key, const char *value)
{
    char valid[64];
    sim_velero_label_name(value, valid);
    return simv_set_str(simv_child(simv_child(obj, "metadata"), "labels"), key, valid);
}

void simv_stamp_new(struct simc_cluster *c, cJSON *obj, const char *ns, int64_t now_ms)
{
    char uid[SIMC_UID_LEN], rv[24], ts[40];
    simc_next_uid(c, uid);
    snprintf(rv, sizeof rv, "%" PRIu64, ++c->resource_version);
    simv_time(c, now_ms, ts);
    cJSON *meta = simv_child(obj, "metadata");
    simv_set_str(meta, "namespace", ns);
    simv_set_str(meta, "uid", uid);
    simv_set_str(meta, "resourceVersion", rv);
    simv_set_num(meta, "generation", 1);
    simv_set_str(meta, "creationTimestamp", ts);
    simv_del(meta, "generateName");
    simv_del(meta, "deletionTimestamp");
    simv_del(meta, "deletionGracePeriodSeconds");
    simv_del(meta, "selfLink");
}

void simv_touch(struct simc_cluster *c, struct vobj *o, bool spec_or_status)
{
    char rv[24];
    snprintf(rv, sizeof rv, "%" PRIu64, ++c->resource_version);
    cJSON *meta = simv_child(o->obj, "metadata");
    simv_set_str(meta, "resourceVersion", rv);
    if (spec_or_status) {
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(meta, "generation");
        simv_set_num(meta, "generation", (cJSON_IsNumber(g) ? g->valuedouble : 0) + 1);
    }
    simv_sort_keys(o->obj);
}

/* Insertion sort of an object's members by key: objects are small. */
void simv_sort_keys(cJSON *o)
{
    if (cJSON_IsArray(o)) {
        for (cJSON *el = o->child; el; el = el->next)
            simv_sort_keys(el);
        return;
    }
    if (!cJSON_IsObject(o) || !o->child)
        return;
    cJSON *sorted = NULL;
    cJSON *m = o->child;
    while (m) {
        cJSON *next = m->next;
        simv_sort_keys(m);
        cJSON **at = &sorted;
        while (*at && strcmp((*at)->string, m->string) <= 0)
            at = &(*at)->next;
        m->next = *at;
        *at = m;
        m = next;
    }
    /* cJSON's list: prev links back, and the head's prev is the tail. */
    cJSON *prev = NULL;
    for (cJSON *it = sorted; it; it = it->next) {
        it->prev = prev;
        prev = it;
    }
    sorted->prev = prev;
    o->child = sorted;
}

void simv_generate_name(struct sim_velero *v, const char *prefix, char *out, size_t n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char suffix[6];
    /* A different suffix for every name this Velero makes, in a
     * reproducible order (the API server draws at random). */
    uint64_t x = ++v->serial * 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 5; i++) {
        suffix[i] = alphabet[x % (sizeof alphabet - 1)];
        x /= sizeof alphabet - 1;
    }
    suffix[5] = '\0';
    size_t plen = strlen(prefix);
    if (plen > SIMC_DNS_SUBDOMAIN_MAX - 5)
        plen = SIMC_DNS_SUBDOMAIN_MAX - 5;
    snprintf(out, n, "%.*s%s", (int)plen, prefix, suffix);
}
