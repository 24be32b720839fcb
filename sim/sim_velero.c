/*
 * sim_velero — see sim_velero.h; the controllers, the API and the
 * storage are in sim_velero_ctl.c, sim_velero_api.c and
 * sim_velero_store.c (sim_velero_int.h). Here: the scenario section, the
 * life cycle, the tick, the faults of /sim/set and /sim/velero.
 */
#include "sim/sim_velero.h"

#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_labels.h"
#include "sim/sim_velero_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the scenario section ---- */

static int bad(char *err, size_t errlen, const char *path, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int bad(char *err, size_t errlen, const char *path, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return errf(err, errlen, "%s%s%s: %s", path, key ? "." : "", key ? key : "", msg);
}

/* A location or namespace name: an object name Velero can put in a
 * label (at most 63). */
static int get_name(const char *s, const char *path, const char *key, char *out, size_t n,
                    char *err, size_t errlen)
{
    char why[512];
    if (!s)
        return bad(err, errlen, path, key, "expected a string");
    if (strlen(s) > 63 || sim_dns_subdomain_check(s, why, sizeof why) < 0)
        return bad(err, errlen, path, key,
                   "\"%s\" is not a name of at most 63 lower-case letters, digits, '-' and '.'", s);
    util_strlcpy(out, s, n);
    return 0;
}

static int get_bool(const cJSON *v, const char *path, const char *key, bool *out, char *err,
                    size_t errlen)
{
    if (!cJSON_IsBool(v))
        return bad(err, errlen, path, key, "expected true or false");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int parse_locations(struct sim_velero_config *cfg, const cJSON *v, const char *path,
                           char *err, size_t errlen)
{
    if (!cJSON_IsObject(v) || !v->child)
        return bad(err, errlen, path, "locations",
                   "expected an object of location names to directories");
    for (const cJSON *it = v->child; it; it = it->next) {
        char p[300];
        snprintf(p, sizeof p, "%s.locations", path);
        if (cfg->nlocations >= SIMV_MAX_LOCATIONS)
            return bad(err, errlen, p, NULL, "more than %d locations", SIMV_MAX_LOCATIONS);
        struct sim_velero_location *loc = &cfg->locations[cfg->nlocations];
        if (get_name(it->string, p, it->string, loc->name, sizeof loc->name, err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < cfg->nlocations; i++)
            if (strcmp(cfg->locations[i].name, loc->name) == 0)
                return bad(err, errlen, p, it->string, "duplicate key");
        struct stat sb;
        if (!cJSON_IsString(it) || !it->valuestring[0] ||
            strlen(it->valuestring) >= sizeof loc->dir)
            return bad(err, errlen, p, it->string, "expected a directory's path");
        if (stat(it->valuestring, &sb) < 0 || !S_ISDIR(sb.st_mode))
            return bad(err, errlen, p, it->string, "%s is not a directory", it->valuestring);
        util_strlcpy(loc->dir, it->valuestring, sizeof loc->dir);
        cfg->nlocations++;
    }
    return 0;
}

int sim_velero_parse_config(struct sim_velero_config *cfg, const cJSON *v, const char *path,
                            char *err, size_t errlen)
{
    static const char *const keys[] = {"namespace",       "storage_location", "locations",
                                       "sync_period",     "data_mover",       "incremental_restore",
                                       "write_gb_per_min"};
    memset(cfg, 0, sizeof *cfg);
    cfg->enabled = true;
    util_strlcpy(cfg->namespace_, "velero", sizeof cfg->namespace_);
    util_strlcpy(cfg->storage_location, "default", sizeof cfg->storage_location);
    cfg->sync_period_ms = 60000;
    cfg->write_gb_per_min = 0.05;
    if (!cJSON_IsObject(v))
        return bad(err, errlen, path, NULL, "expected an object");
    for (const cJSON *it = v->child; it; it = it->next) {
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(keys); i++)
            known = known || strcmp(keys[i], it->string) == 0;
        if (!known)
            return bad(err, errlen, path, it->string, "unknown key");
        for (const cJSON *prev = v->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return bad(err, errlen, path, it->string, "duplicate key");
    }
    const cJSON *x;
    char why[256];
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "namespace"))) {
        if (!cJSON_IsString(x) || simc_dns_label_check(x->valuestring, why, sizeof why) < 0)
            return bad(err, errlen, path, "namespace", "expected a namespace name (DNS label)");
        util_strlcpy(cfg->namespace_, x->valuestring, sizeof cfg->namespace_);
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "storage_location")) &&
        get_name(cJSON_IsString(x) ? x->valuestring : NULL, path, "storage_location",
                 cfg->storage_location, sizeof cfg->storage_location, err, errlen) < 0)
        return -1;
    x = cJSON_GetObjectItemCaseSensitive(v, "locations");
    if (!x)
        return bad(err, errlen, path, "locations", "missing");
    if (parse_locations(cfg, x, path, err, errlen) < 0)
        return -1;
    bool own = false;
    for (size_t i = 0; i < cfg->nlocations; i++)
        own = own || strcmp(cfg->locations[i].name, cfg->storage_location) == 0;
    if (!own)
        return bad(err, errlen, path, "storage_location",
                   "\"%s\" is not one of the locations (this site's own location needs a "
                   "directory)",
                   cfg->storage_location);
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "sync_period"))) {
        int64_t ms = -1;
        if (cJSON_IsString(x)) {
            if (strcmp(x->valuestring, "0s") == 0 || strcmp(x->valuestring, "0") == 0)
                ms = 0;
            else if (util_parse_duration_ms(x->valuestring, &ms, why, sizeof why) < 0)
                return bad(err, errlen, path, "sync_period", "%s", why);
        } else if (cJSON_IsNumber(x) && x->valuedouble >= 0 && x->valuedouble < 9e12) {
            ms = (int64_t)llround(x->valuedouble * 1000.0);
        } else {
            return bad(err, errlen, path, "sync_period",
                       "expected a duration (\"1m\", \"30s\", \"0s\" for none) or seconds");
        }
        cfg->sync_period_ms = ms;
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "data_mover")) &&
        get_bool(x, path, "data_mover", &cfg->data_mover, err, errlen) < 0)
        return -1;
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "incremental_restore")) &&
        get_bool(x, path, "incremental_restore", &cfg->incremental_restore, err, errlen) < 0)
        return -1;
    if ((x = cJSON_GetObjectItemCaseSensitive(v, "write_gb_per_min"))) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0 ||
            x->valuedouble > 1e6)
            return bad(err, errlen, path, "write_gb_per_min", "expected a number 0..1000000");
        cfg->write_gb_per_min = x->valuedouble;
    }
    return 0;
}

/* ---- life cycle ---- */

int sim_velero_new(struct sim_velero **out, const struct sim_velero_config *cfg, char *err,
                   size_t errlen)
{
    struct sim_velero *v = calloc(1, sizeof *v);
    if (!v)
        return errf(err, errlen, "out of memory");
    v->cfg = *cfg;
    v->last_sync_ms = -1;
    char why[256];
    if (sim_crd_load(&v->crd_backup, (const char *)sim_crd_backups_json, why, sizeof why) < 0 ||
        sim_crd_load(&v->crd_restore, (const char *)sim_crd_restores_json, why, sizeof why) < 0)
        goto fail;
    /* Merged on Velero's main branch, in no release yet (SPEC 6): a
     * cluster without it refuses the field as unknown. */
    if (cfg->incremental_restore &&
        sim_crd_add_property(&v->crd_restore, "spec", "existingVolumeDataPolicy",
                             "{\"type\": \"string\", \"nullable\": true}", why, sizeof why) < 0)
        goto fail;
    *out = v;
    return 0;
fail:
    sim_velero_free(v);
    return errf(err, errlen, "velero: %s", why);
}

void sim_velero_free(struct sim_velero *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nobjs; i++) {
        cJSON_Delete(v->objs[i].obj);
        cJSON_Delete(v->objs[i].contents);
    }
    free(v->objs);
    sim_crd_free(&v->crd_backup);
    sim_crd_free(&v->crd_restore);
    free(v);
}

const struct sim_velero_config *sim_velero_config(const struct sim_velero *v)
{
    return &v->cfg;
}

void sim_velero_tick(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms)
{
    simv_sync_tick(v, c, now_ms);
    simv_backups_tick(v, c, now_ms);
    simv_restores_tick(v, c, now_ms);
    simv_volumes_tick(v, c, now_ms);
}

/* ---- faults ---- */

static const char *const set_names[] = {"velero.next_backup", "velero.next_restore",
                                        "velero.restart", "velero.sync"};

bool sim_velero_set_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(set_names); i++)
        if (strcmp(name, set_names[i]) == 0)
            return true;
    return false;
}

int sim_velero_set_check(const char *name, const cJSON *value, char *err, size_t errlen)
{
    if (strcmp(name, "velero.restart") == 0) {
        if (!cJSON_IsTrue(value))
            return errf(err, errlen, "%s: expected true (Velero restarts now)", name);
        return 0;
    }
    if (strcmp(name, "velero.sync") == 0) {
        if (!cJSON_IsBool(value))
            return errf(err, errlen, "%s: expected true or false", name);
        return 0;
    }
    bool ok = cJSON_IsNull(value) ||
              (cJSON_IsString(value) && (strcmp(value->valuestring, "PartiallyFailed") == 0 ||
                                         strcmp(value->valuestring, "Failed") == 0));
    if (!ok)
        return errf(err, errlen, "%s: expected \"PartiallyFailed\", \"Failed\" or null", name);
    return 0;
}

void sim_velero_set_apply(struct sim_velero *v, struct simc_cluster *c, int64_t now_ms,
                          const char *name, const cJSON *value)
{
    if (strcmp(name, "velero.restart") == 0) {
        log_warn("velero: restarting (POST /sim/set)");
        simv_restart(v, c, now_ms);
    } else if (strcmp(name, "velero.sync") == 0) {
        bool was = v->sync_stopped;
        v->sync_stopped = !cJSON_IsTrue(value);
        if (was && !v->sync_stopped)
            v->next_sync_ms = now_ms; /* resumes at once */
    } else {
        char *fault = strcmp(name, "velero.next_backup") == 0 ? v->next_backup : v->next_restore;
        util_strlcpy(fault, cJSON_IsString(value) ? value->valuestring : "", sizeof v->next_backup);
    }
}

/* ---- /sim/velero ---- */

static cJSON *fault_json(const char *f)
{
    return f[0] ? cJSON_CreateString(f) : cJSON_CreateNull();
}

/* Each namespace's data of a backup's or restore's contents. */
static cJSON *contents_json(const cJSON *contents)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(contents, "namespaces"))
    {
        const char *name = simv_str(e, "name");
        const cJSON *d = cJSON_GetObjectItem(e, "data");
        if (!o || !name || !d)
            continue;
        cJSON_AddItemToObject(o, name, cJSON_Duplicate(d, true));
    }
    return o;
}

char *sim_velero_state_json(const struct sim_velero *v, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    simv_set_str(o, "namespace", v->cfg.namespace_);
    simv_set_str(o, "storage_location", v->cfg.storage_location);
    simv_set_num(o, "time_s", (double)(now_ms / 1000));
    cJSON *sync = simv_child(o, "sync");
    simv_set_num(sync, "period_s", (double)v->cfg.sync_period_ms / 1000.0);
    simv_set_bool(sync, "stopped", v->sync_stopped);
    if (v->last_sync_ms >= 0)
        simv_set_num(sync, "last_s", (double)(v->last_sync_ms / 1000));
    else
        cJSON_AddNullToObject(sync, "last_s");
    simv_set_str(sync, "error", v->sync_error);
    cJSON *faults = simv_child(o, "faults");
    cJSON_AddItemToObject(faults, "next_backup", fault_json(v->next_backup));
    cJSON_AddItemToObject(faults, "next_restore", fault_json(v->next_restore));
    cJSON *backups = cJSON_AddArrayToObject(o, "backups");
    cJSON *restores = cJSON_AddArrayToObject(o, "restores");
    for (size_t i = 0; backups && restores && i < v->nobjs; i++) {
        const struct vobj *ob = &v->objs[i];
        if (ob->kind != VK_BACKUP && ob->kind != VK_RESTORE)
            continue;
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddItemToArray(ob->kind == VK_BACKUP ? backups : restores, e);
        simv_set_str(e, "name", ob->name);
        simv_set_str(e, "phase", simv_phase(ob));
        const cJSON *spec = cJSON_GetObjectItem(ob->obj, "spec");
        const char *other =
            simv_str(spec, ob->kind == VK_BACKUP ? "storageLocation" : "backupName");
        simv_set_str(e, ob->kind == VK_BACKUP ? "storage_location" : "backup", other ? other : "");
        cJSON_AddItemToObject(e, "namespaces", contents_json(ob->contents));
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
