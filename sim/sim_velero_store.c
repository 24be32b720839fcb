/*
 * sim_velero_store — backup storage locations (sim_velero_int.h). A
 * location is a directory; two floe-sim processes that name the same
 * directory share it, as two clusters share an object store bucket.
 *
 * A finished backup is one file NAME.json (Velero uploads a backup's
 * metadata when it ends):
 *   {"format": 1, "backup": {the Backup object as it ended},
 *    "contents": {"namespaces": [{"name", "snapshot": {sim_cluster_snap's
 *      JSON: labels, annotations, workloads, data_version, has_data},
 *      "hooks": {...}, "data": {"gb", "kind", "version" (null: no volume
 *      data), "bytes", ...}}]}}
 * written to a temporary ".NAME.json.tmp" and renamed, so a reader never
 * sees half a record. Every sync_period the site reads its own location
 * and creates the Backups it does not have, with spec.storageLocation
 * (and the velero.io/storage-location label) rewritten to its own
 * location's name; Completed Backups of its location that are gone from
 * storage are deleted (Velero's orphan clean-up); expired backups are
 * deleted with their record (Velero's garbage collection).
 */
#include "sim/sim_velero_int.h"

#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECORD_MAX_BYTES (4 * 1024 * 1024)

const char *simv_location_dir(const struct sim_velero *v, const char *name)
{
    for (size_t i = 0; name && i < v->cfg.nlocations; i++)
        if (strcmp(v->cfg.locations[i].name, name) == 0)
            return v->cfg.locations[i].dir;
    return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int simv_store_write(struct sim_velero *v, const struct vobj *b, char *err, size_t errlen)
{
    const char *loc = simv_str(cJSON_GetObjectItem(b->obj, "spec"), "storageLocation");
    const char *dir = simv_location_dir(v, loc);
    if (!dir)
        return errf(err, errlen, "no storage location \"%s\"", loc ? loc : "");
    cJSON *rec = cJSON_CreateObject();
    char *text = NULL;
    if (!rec || !cJSON_AddNumberToObject(rec, "format", SIMV_RECORD_FORMAT) ||
        !cJSON_AddItemToObject(rec, "backup", cJSON_Duplicate(b->obj, true)) ||
        !cJSON_AddItemToObject(rec, "contents",
                               b->contents ? cJSON_Duplicate(b->contents, true)
                                           : cJSON_CreateObject()) ||
        !(text = cJSON_PrintUnformatted(rec))) {
        cJSON_Delete(rec);
        return errf(err, errlen, "out of memory");
    }
    cJSON_Delete(rec);
    char tmp[SIMV_DIR_MAX + 300], path[SIMV_DIR_MAX + 300];
    snprintf(tmp, sizeof tmp, "%s/.%s.json.tmp", dir, b->name);
    snprintf(path, sizeof path, "%s/%s.json", dir, b->name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        errf(err, errlen, "%s: %s", tmp, strerror(errno));
        free(text);
        return -1;
    }
    int rc = write_all(fd, text, strlen(text));
    int saved = errno;
    free(text);
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        return errf(err, errlen, "%s: %s", path, strerror(saved));
    }
    return 0;
}

/* What a record must hold to be used: checked where it enters, since
 * any process (or person) may have written the directory. */
static int record_check(const cJSON *rec, const char *name, char *err, size_t errlen)
{
    const cJSON *fmt = cJSON_GetObjectItem(rec, "format");
    const cJSON *b = cJSON_GetObjectItem(rec, "backup");
    const cJSON *list = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "contents"), "namespaces");
    if (!cJSON_IsNumber(fmt) || fmt->valueint != SIMV_RECORD_FORMAT)
        return errf(err, errlen, "%s: not a floe-sim backup record of format %d", name,
                    SIMV_RECORD_FORMAT);
    const char *bname = simv_str(cJSON_GetObjectItem(b, "metadata"), "name");
    if (!cJSON_IsObject(b) || !bname || strcmp(bname, name) != 0 ||
        !simv_str(cJSON_GetObjectItem(b, "status"), "phase"))
        return errf(err, errlen, "%s: \"backup\" is not the Backup %s with a status.phase", name,
                    name);
    if (!cJSON_IsArray(list))
        return errf(err, errlen, "%s: contents.namespaces is not an array", name);
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        const char *ns = simv_str(e, "name");
        char why[256];
        const cJSON *d = cJSON_GetObjectItem(e, "data");
        const cJSON *ver = cJSON_GetObjectItem(d, "version");
        if (!ns || simc_dns_label_check(ns, why, sizeof why) < 0 ||
            !cJSON_IsObject(cJSON_GetObjectItem(e, "snapshot")) ||
            (d && !cJSON_IsNull(ver) &&
             !(cJSON_IsNumber(ver) && ver->valuedouble >= 0 && ver->valuedouble < 9e15)))
            return errf(err, errlen,
                        "%s: a namespace entry without a valid name, snapshot or "
                        "data.version",
                        name);
    }
    return 0;
}

cJSON *simv_store_read(const char *dir, const char *name, char *err, size_t errlen)
{
    char path[SIMV_DIR_MAX + 300];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    size_t len;
    char why[300];
    char *text = util_read_file(path, &len, why, sizeof why);
    if (!text) {
        errf(err, errlen, "backup %s is not in its storage location (%s)", name, why);
        return NULL;
    }
    cJSON *rec = len <= RECORD_MAX_BYTES ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!rec) {
        errf(err, errlen, "%s: not a JSON record (or over %d bytes)", path, RECORD_MAX_BYTES);
        return NULL;
    }
    if (record_check(rec, name, err, errlen) < 0) {
        cJSON_Delete(rec);
        return NULL;
    }
    return rec;
}

/* The backup names in a location: NAME.json files whose NAME is an
 * object name. */
static int list_records(const char *dir, char ***names, size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    size_t cap = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errf(err, errlen, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char name[SIMC_DNS_SUBDOMAIN_MAX + 1], why[300];
        if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0 || len - 5 >= sizeof name)
            continue;
        memcpy(name, de->d_name, len - 5);
        name[len - 5] = '\0';
        if (sim_dns_subdomain_check(name, why, sizeof why) < 0)
            continue;
        char *copy = strdup(name);
        if (!copy || vec_reserve(*names, cap, *n + 1) < 0) {
            free(copy);
            break;
        }
        (*names)[(*n)++] = copy;
    }
    closedir(d);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

bool simv_store_base(const char *dir, const char *ns, uint64_t at, uint64_t *version)
{
    char **names;
    size_t n;
    bool found = false;
    if (list_records(dir, &names, &n, NULL, 0) < 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        cJSON *rec = simv_store_read(dir, names[i], NULL, 0);
        const char *phase =
            simv_str(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "backup"), "status"), "phase");
        /* A failed backup's data may be partial: not a base. */
        if (!phase || (strcmp(phase, "Completed") != 0 && strcmp(phase, "PartiallyFailed") != 0)) {
            cJSON_Delete(rec);
            continue;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e,
                           cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "contents"), "namespaces"))
        {
            const cJSON *ver = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "data"), "version");
            const char *name = simv_str(e, "name");
            if (!name || strcmp(name, ns) != 0 || !cJSON_IsNumber(ver) ||
                (uint64_t)ver->valuedouble > at)
                continue;
            if (!found || (uint64_t)ver->valuedouble > *version)
                *version = (uint64_t)ver->valuedouble;
            found = true;
        }
        cJSON_Delete(rec);
    }
    free_names(names, n);
    return found;
}

/* The Backup a record stands for at this site: its own metadata, its
 * location named as here. NULL (and err) when the schema refuses it. */
static cJSON *synced_backup(struct sim_velero *v, const cJSON *rec, char *err, size_t errlen)
{
    cJSON *obj = cJSON_Duplicate(cJSON_GetObjectItem(rec, "backup"), true);
    if (!obj) {
        errf(err, errlen, "out of memory");
        return NULL;
    }
    cJSON *meta = simv_child(obj, "metadata");
    static const char *const server_set[] = {
        "uid",           "resourceVersion", "creationTimestamp", "generation",       "namespace",
        "managedFields", "ownerReferences", "finalizers",        "deletionTimestamp"};
    for (size_t i = 0; i < ARRAY_LEN(server_set); i++)
        simv_del(meta, server_set[i]);
    simv_set_str(simv_child(obj, "spec"), "storageLocation", v->cfg.storage_location);
    simv_set_label(obj, SIMV_LABEL_STORAGE_LOCATION, v->cfg.storage_location);
    char *status = NULL;
    int code = sim_schema_check(&v->crd_backup, obj, &status);
    if (code) {
        cJSON *st = status ? cJSON_Parse(status) : NULL;
        errf(err, errlen, "refused by the Backup schema: %s",
             simv_str(st, "message") ? simv_str(st, "message") : "out of memory");
        cJSON_Delete(st);
        free(status);
        cJSON_Delete(obj);
        return NULL;
    }
    return obj;
}

static void sync_location(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    const char *dir = simv_location_dir(v, v->cfg.storage_location);
    char **names;
    size_t n;
    char err[600];
    v->sync_error[0] = '\0';
    if (!dir || list_records(dir, &names, &n, err, sizeof err) < 0) {
        snprintf(v->sync_error, sizeof v->sync_error, "%s", dir ? err : "no directory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (simv_find(v, VK_BACKUP, names[i]))
            continue;
        cJSON *rec = simv_store_read(dir, names[i], err, sizeof err);
        cJSON *obj = rec ? synced_backup(v, rec, err, sizeof err) : NULL;
        if (!obj) {
            snprintf(v->sync_error, sizeof v->sync_error, "%.200s: %.600s", names[i], err);
            cJSON_Delete(rec);
            continue;
        }
        simv_stamp_new(c, obj, v->cfg.namespace_, now_ms);
        simv_sort_keys(obj);
        struct vobj *o = simv_insert(v, VK_BACKUP, names[i], obj);
        if (o) {
            o->contents = cJSON_DetachItemFromObject(rec, "contents");
            log_info("velero: storage sync: backup %s (%s) from location %s", names[i],
                     simv_phase(o), v->cfg.storage_location);
        }
        cJSON_Delete(rec);
    }
    /* Completed Backups of this location no longer in storage go. */
    for (size_t i = v->nobjs; i-- > 0;) {
        struct vobj *o = &v->objs[i];
        const char *loc = simv_str(cJSON_GetObjectItem(o->obj, "spec"), "storageLocation");
        if (o->kind != VK_BACKUP || strcmp(simv_phase(o), "Completed") != 0 || !loc ||
            strcmp(loc, v->cfg.storage_location) != 0)
            continue;
        bool stored = false;
        for (size_t j = 0; j < n && !stored; j++)
            stored = strcmp(names[j], o->name) == 0;
        if (!stored) {
            log_info("velero: storage sync: backup %s is gone from location %s; deleted", o->name,
                     loc);
            simv_remove(v, o);
        }
    }
    free_names(names, n);
    v->last_sync_ms = now_ms;
}

/* Velero's garbage collection: an ended backup past its expiration is
 * deleted, its record with it. */
static void expire(struct sim_velero *v, const struct simc_cluster *c, int64_t now_ms)
{
    for (size_t i = v->nobjs; i-- > 0;) {
        struct vobj *o = &v->objs[i];
        static const char *const ended[] = {"Completed", "PartiallyFailed", "Failed",
                                            "FailedValidation"};
        bool done = false;
        for (size_t k = 0; k < ARRAY_LEN(ended); k++)
            done = done || strcmp(simv_phase(o), ended[k]) == 0;
        int64_t exp_ms;
        if (o->kind != VK_BACKUP || !done ||
            !simv_time_of(c, cJSON_GetObjectItem(o->obj, "status"), "expiration", &exp_ms) ||
            exp_ms > now_ms)
            continue;
        const char *dir =
            simv_location_dir(v, simv_str(cJSON_GetObjectItem(o->obj, "spec"), "storageLocation"));
        if (dir) {
            char path[SIMV_DIR_MAX + 300];
            snprintf(path, sizeof path, "%s/%s.json", dir, o->name);
            unlink(path);
        }
        log_info("velero: backup %s expired; deleted", o->name);
        simv_remove(v, o);
    }
}

void simv_sync_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    if (v->cfg.sync_period_ms <= 0 || now_ms < v->next_sync_ms)
        return;
    v->next_sync_ms = now_ms + v->cfg.sync_period_ms;
    expire(v, c, now_ms);
    if (!v->sync_stopped)
        sync_location(v, c, now_ms);
}
