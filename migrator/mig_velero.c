/*
 * mig_velero — see mig_velero.h.
 *
 * Objects are created with ?fieldValidation=Strict: an API server that
 * does not know a field (existingVolumeDataPolicy on a Velero without
 * it) refuses the object instead of dropping the field and silently
 * doing something else, such as a full restore that skips every
 * existing volume.
 */
#include "migrator/mig_velero.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"

#define VELERO_API "/apis/velero.io/v1/namespaces/"
#define MIGRATION_LABEL "floe.dev/migration"
/* Far more file-system uploads than one namespace has volumes. */
#define MAX_VOLUME_UPLOADS 10000

/* ---- phases ---- */

const char *mig_vclass_name(enum mig_vclass c)
{
    switch (c) {
    case MIG_V_RUNNING:
        return "running";
    case MIG_V_COMPLETED:
        return "completed";
    case MIG_V_PARTIAL:
        return "partial";
    case MIG_V_FAILED:
        return "failed";
    case MIG_V_DELETING:
        return "deleting";
    case MIG_V_GONE:
        return "gone";
    }
    return "?";
}

enum mig_vclass mig_velero_classify(const char *phase)
{
    if (!phase)
        return MIG_V_RUNNING;
    if (strcmp(phase, "Completed") == 0)
        return MIG_V_COMPLETED;
    if (strcmp(phase, "PartiallyFailed") == 0)
        return MIG_V_PARTIAL;
    if (strcmp(phase, "Failed") == 0 || strcmp(phase, "FailedValidation") == 0)
        return MIG_V_FAILED;
    if (strcmp(phase, "Deleting") == 0)
        return MIG_V_DELETING;
    /* New, Queued, ReadyToStart, InProgress, WaitingForPluginOperations*,
     * Finalizing* (a PartiallyFailed there is not final yet), "", and
     * phases of a later Velero: still going. */
    return MIG_V_RUNNING;
}

bool mig_velero_restart_failure(const char *failure_reason)
{
    return failure_reason && (strcmp(failure_reason, MIG_VELERO_RESTART_BACKUP) == 0 ||
                              strcmp(failure_reason, MIG_VELERO_RESTART_RESTORE) == 0);
}

/* ---- names ---- */

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

int mig_velero_name(char *out, size_t n, const char *site, const char *ns, int64_t migration_id,
                    int seq)
{
    if (!out || n < MIG_VELERO_NAME_MAX + 1 || !site || !*site || !ns || !*ns || migration_id < 0 ||
        seq < 0)
        return -1;
    char *raw = NULL;
    if (asprintf(&raw, "floe-%s-%s-%" PRId64 "-%d", site, ns, migration_id, seq) < 0)
        return -1;
    if (kube_name_valid(raw)) {
        util_strlcpy(out, raw, n);
        free(raw);
        return 0;
    }
    /* Too long, or a site name with characters a name cannot have
     * ("DC_1": config allows them): keep the start, made lower case
     * [a-z0-9-], and tell names apart by the hash of the whole. */
    const size_t keep = MIG_VELERO_NAME_MAX - 9; /* "-" and 8 hex digits */
    size_t o = 0;
    for (size_t i = 0; raw[i] && o < keep; i++) {
        char c = raw[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-';
    }
    snprintf(out + o, n - o, "-%08" PRIx32, fnv1a(raw));
    free(raw);
    return 0;
}

/* ---- JSON for new objects ---- */

/* A Go time.Duration as Go prints it ("72h0m0s", "1m30s", "1.5s",
 * "500ms"), the form Velero writes back; ms >= 0. */
static void go_duration(int64_t ms, char *out, size_t n)
{
    if (ms < 1000) {
        if (ms)
            snprintf(out, n, "%" PRId64 "ms", ms);
        else
            snprintf(out, n, "0s");
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    char sec[24];
    if (frac) {
        snprintf(sec, sizeof sec, "%" PRId64 ".%03" PRId64, s, frac);
        size_t len = strlen(sec);
        while (sec[len - 1] == '0')
            sec[--len] = '\0';
    } else {
        snprintf(sec, sizeof sec, "%" PRId64, s);
    }
    if (h)
        snprintf(out, n, "%" PRId64 "h%" PRId64 "m%ss", h, m, sec);
    else if (m)
        snprintf(out, n, "%" PRId64 "m%ss", m, sec);
    else
        snprintf(out, n, "%ss", sec);
}

/* A backup storage location's name: an object name that fits in
 * mig_vstatus. */
static bool location_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") != n)
        return false;
    return s[0] != '.' && s[0] != '-' && s[n - 1] != '.' && s[n - 1] != '-';
}

/* metadata and apiVersion/kind, with the migration label; NULL when out
 * of memory. */
static cJSON *new_object(const char *kind, const char *name, int64_t migration_id, cJSON **spec)
{
    cJSON *o = cJSON_CreateObject(), *meta, *labels;
    char id[24];
    snprintf(id, sizeof id, "%" PRId64, migration_id);
    if (!cJSON_AddStringToObject(o, "apiVersion", "velero.io/v1") ||
        !cJSON_AddStringToObject(o, "kind", kind) ||
        !(meta = cJSON_AddObjectToObject(o, "metadata")) ||
        !cJSON_AddStringToObject(meta, "name", name) ||
        !(labels = cJSON_AddObjectToObject(meta, "labels")) ||
        !cJSON_AddStringToObject(labels, MIGRATION_LABEL, id) ||
        !(*spec = cJSON_AddObjectToObject(o, "spec"))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool add_string_array(cJSON *o, const char *key, const char *const *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (size_t i = 0; a && i < n; i++) {
        cJSON *s = cJSON_CreateString(v[i]);
        if (!s)
            return false;
        cJSON_AddItemToArray(a, s);
    }
    return a != NULL;
}

static char *print_or_oom(cJSON *o, bool ok, char *err, size_t errlen)
{
    char *text = ok && o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!text)
        errf(err, errlen, "out of memory");
    return text;
}

/* The pre-backup exec hook: the quiesce command in every pod of the
 * namespace (its first container, Velero's default), and the backup of a
 * pod fails if it fails: a backup of a workload still writing is not the
 * final one. */
static bool add_quiesce_hook(cJSON *spec, const struct mig_backup_spec *b)
{
    cJSON *res = cJSON_AddArrayToObject(cJSON_AddObjectToObject(spec, "hooks"), "resources");
    cJSON *r = cJSON_CreateObject();
    if (!res || !r) {
        cJSON_Delete(r);
        return false;
    }
    cJSON_AddItemToArray(res, r);
    if (!cJSON_AddStringToObject(r, "name", "floe-quiesce") ||
        !add_string_array(r, "includedNamespaces", &b->namespace_, 1))
        return false;
    cJSON *pre = cJSON_AddArrayToObject(r, "pre");
    cJSON *hook = cJSON_CreateObject();
    if (!pre || !hook) {
        cJSON_Delete(hook);
        return false;
    }
    cJSON_AddItemToArray(pre, hook);
    cJSON *exec = cJSON_AddObjectToObject(hook, "exec");
    bool ok = exec && add_string_array(exec, "command", b->quiesce, b->nquiesce) &&
              cJSON_AddStringToObject(exec, "onError", "Fail");
    if (ok && b->hook_timeout_ms > 0) {
        char t[48];
        go_duration(b->hook_timeout_ms, t, sizeof t);
        ok = cJSON_AddStringToObject(exec, "timeout", t) != NULL;
    }
    return ok;
}

char *mig_velero_backup_json(const struct mig_backup_spec *b, char *err, size_t errlen)
{
    if (!kube_name_valid(b->name)) {
        errf(err, errlen, "backup name \"%.80s\": not 1..63 of [a-z0-9-]", b->name ? b->name : "");
        return NULL;
    }
    if (!kube_name_valid(b->namespace_)) {
        errf(err, errlen, "backup %s: namespace \"%.80s\" is not a namespace name", b->name,
             b->namespace_ ? b->namespace_ : "");
        return NULL;
    }
    if (b->storage_location && !location_valid(b->storage_location)) {
        errf(err, errlen, "backup %s: storage location \"%.80s\" is not a name", b->name,
             b->storage_location);
        return NULL;
    }
    if (b->ttl_ms < 1000) {
        errf(err, errlen, "backup %s: ttl %" PRId64 " ms is below 1 s", b->name, b->ttl_ms);
        return NULL;
    }
    if (b->migration_id < 0) {
        errf(err, errlen, "backup %s: migration id %" PRId64 " is negative", b->name,
             b->migration_id);
        return NULL;
    }
    for (size_t i = 0; i < b->nquiesce; i++)
        if (!b->quiesce || !b->quiesce[i] || !*b->quiesce[i]) {
            errf(err, errlen, "backup %s: quiesce command word %zu is empty", b->name, i);
            return NULL;
        }
    cJSON *spec = NULL;
    cJSON *o = new_object("Backup", b->name, b->migration_id, &spec);
    char ttl[48];
    go_duration(b->ttl_ms, ttl, sizeof ttl);
    bool ok = o && add_string_array(spec, "includedNamespaces", &b->namespace_, 1) &&
              cJSON_AddBoolToObject(spec, "defaultVolumesToFsBackup", b->fs_backup) &&
              cJSON_AddStringToObject(spec, "ttl", ttl);
    if (ok && b->snapshot_move_data)
        ok = cJSON_AddBoolToObject(spec, "snapshotMoveData", true) != NULL;
    if (ok && b->storage_location)
        ok = cJSON_AddStringToObject(spec, "storageLocation", b->storage_location) != NULL;
    if (ok && b->nquiesce)
        ok = add_quiesce_hook(spec, b);
    return print_or_oom(o, ok, err, errlen);
}

char *mig_velero_restore_json(const struct mig_restore_spec *r, char *err, size_t errlen)
{
    if (!kube_name_valid(r->name)) {
        errf(err, errlen, "restore name \"%.80s\": not 1..63 of [a-z0-9-]", r->name ? r->name : "");
        return NULL;
    }
    if (!kube_name_valid(r->backup_name)) {
        errf(err, errlen, "restore %s: backup name \"%.80s\": not 1..63 of [a-z0-9-]", r->name,
             r->backup_name ? r->backup_name : "");
        return NULL;
    }
    if (!kube_name_valid(r->namespace_)) {
        errf(err, errlen, "restore %s: namespace \"%.80s\" is not a namespace name", r->name,
             r->namespace_ ? r->namespace_ : "");
        return NULL;
    }
    if (r->migration_id < 0) {
        errf(err, errlen, "restore %s: migration id %" PRId64 " is negative", r->name,
             r->migration_id);
        return NULL;
    }
    cJSON *spec = NULL;
    cJSON *o = new_object("Restore", r->name, r->migration_id, &spec);
    bool ok = o && cJSON_AddStringToObject(spec, "backupName", r->backup_name) &&
              add_string_array(spec, "includedNamespaces", &r->namespace_, 1) &&
              cJSON_AddBoolToObject(spec, "restorePVs", true);
    if (ok && r->incremental)
        ok = cJSON_AddStringToObject(spec, "existingVolumeDataPolicy", "incremental") != NULL;
    return print_or_oom(o, ok, err, errlen);
}

/* ---- requests ---- */

static const char *kind_word(enum mig_vkind k)
{
    return k == MIG_RESTORE ? "restore" : "backup";
}

static int check_ns(const char *velero_ns, char *err, size_t errlen)
{
    if (kube_name_valid(velero_ns))
        return 0;
    return errf(err, errlen, "Velero namespace \"%.80s\" is not a namespace name",
                velero_ns ? velero_ns : "");
}

static int create(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind, char *json,
                  int64_t now_ms, char *err, size_t errlen)
{
    if (!json)
        return -1;
    char path[160];
    snprintf(path, sizeof path, VELERO_API "%s/%ss?fieldValidation=Strict", velero_ns,
             kind_word(kind));
    struct kube_req r = {.method = "POST", .path = path, .body = json, .body_len = strlen(json)};
    int rc = kube_run(kc, &r, now_ms);
    if (rc != 0 && r.status == 409)
        rc = 0; /* AlreadyExists: the name is ours, made before a restart */
    else if (rc != 0)
        errf(err, errlen, "%s", r.error);
    kube_req_clear(&r);
    free(json);
    return rc;
}

int mig_velero_create_backup(struct kube_client *kc, const char *velero_ns,
                             const struct mig_backup_spec *b, int64_t now_ms, char *err,
                             size_t errlen)
{
    if (check_ns(velero_ns, err, errlen) != 0)
        return -1;
    return create(kc, velero_ns, MIG_BACKUP, mig_velero_backup_json(b, err, errlen), now_ms, err,
                  errlen);
}

int mig_velero_create_restore(struct kube_client *kc, const char *velero_ns,
                              const struct mig_restore_spec *r, int64_t now_ms, char *err,
                              size_t errlen)
{
    if (check_ns(velero_ns, err, errlen) != 0)
        return -1;
    return create(kc, velero_ns, MIG_RESTORE, mig_velero_restore_json(r, err, errlen), now_ms, err,
                  errlen);
}

/* ---- reading a Backup or Restore ---- */

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool absent(const cJSON *v)
{
    return !v || cJSON_IsNull(v);
}

/* Copies an API server's text with control characters replaced. */
static void clean_copy(char *out, size_t n, const char *s)
{
    util_strlcpy(out, s, n);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    util_utf8_sanitize(out);
}

static int read_count(const cJSON *status, const char *key, int32_t *out, const char *what,
                      char *err, size_t errlen)
{
    const cJSON *v = get(status, key);
    *out = 0;
    if (absent(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= INT32_MAX) ||
        floor(v->valuedouble) != v->valuedouble)
        return errf(err, errlen, "%s: status.%s: not a whole number >= 0", what, key);
    *out = (int32_t)v->valuedouble;
    return 0;
}

/* A time at parent.key; parent_name ("status", "metadata") names it in
 * the error. */
static int read_time_in(const cJSON *parent, const char *parent_name, const char *key,
                        int64_t *out, const char *what, char *err, size_t errlen)
{
    const cJSON *v = get(parent, key);
    *out = 0;
    if (absent(v))
        return 0;
    if (!cJSON_IsString(v) || util_parse_time_ms(v->valuestring, out) != 0)
        return errf(err, errlen, "%s: %s.%s: not an RFC 3339 time", what, parent_name, key);
    return 0;
}

static int read_time(const cJSON *status, const char *key, int64_t *out, const char *what,
                     char *err, size_t errlen)
{
    return read_time_in(status, "status", key, out, what, err, errlen);
}

/* reason: failureReason and validationErrors, or the error counts. */
static int read_reason(const cJSON *status, struct mig_vstatus *out, const char *what, char *err,
                       size_t errlen)
{
    const cJSON *fr = get(status, "failureReason");
    const cJSON *ve = get(status, "validationErrors");
    if (!absent(fr) && !cJSON_IsString(fr))
        return errf(err, errlen, "%s: status.failureReason: not a string", what);
    if (!absent(ve) && !cJSON_IsArray(ve))
        return errf(err, errlen, "%s: status.validationErrors: not an array", what);
    const cJSON *e;
    cJSON_ArrayForEach(e, ve)
    {
        if (!cJSON_IsString(e))
            return errf(err, errlen, "%s: status.validationErrors: not an array of strings", what);
    }
    if (out->cls != MIG_V_FAILED && out->cls != MIG_V_PARTIAL)
        return 0;
    struct strbuf b = {0};
    if (cJSON_IsString(fr) && *fr->valuestring)
        strbuf_puts(&b, fr->valuestring);
    bool first = true;
    cJSON_ArrayForEach(e, ve)
    {
        strbuf_printf(&b, "%s%s", first ? (b.len ? "; validation: " : "validation: ") : "; ",
                      e->valuestring);
        first = false;
    }
    if (!b.len)
        strbuf_printf(&b, "%d errors, %d warnings", (int)out->errors, (int)out->warnings);
    char *text = strbuf_take(&b);
    clean_copy(out->reason, sizeof out->reason, text ? text : "out of memory");
    free(text);
    return 0;
}

static int read_vobject(const cJSON *o, enum mig_vkind kind, const char *name,
                        struct mig_vstatus *out, char *err, size_t errlen)
{
    char what[96];
    snprintf(what, sizeof what, "%s %s", kind_word(kind), name);
    const char *want_kind = kind == MIG_RESTORE ? "Restore" : "Backup";
    const cJSON *k = get(o, "kind");
    if (!cJSON_IsObject(o) || (k && !(cJSON_IsString(k) && strcmp(k->valuestring, want_kind) == 0)))
        return errf(err, errlen, "%s: the answer is not a %s", what, want_kind);
    const cJSON *mname = get(get(o, "metadata"), "name");
    if (!cJSON_IsString(mname) || strcmp(mname->valuestring, name) != 0)
        return errf(err, errlen, "%s: metadata.name: not %s", what, name);
    const cJSON *spec = get(o, "spec"), *status = get(o, "status");
    if (!absent(spec) && !cJSON_IsObject(spec))
        return errf(err, errlen, "%s: spec: not an object", what);
    if (!absent(status) && !cJSON_IsObject(status))
        return errf(err, errlen, "%s: status: not an object", what);
    const cJSON *loc = get(spec, "storageLocation");
    if (kind == MIG_BACKUP && !absent(loc)) {
        if (!cJSON_IsString(loc) || strlen(loc->valuestring) >= sizeof out->storage_location)
            return errf(err, errlen, "%s: spec.storageLocation: not a name", what);
        clean_copy(out->storage_location, sizeof out->storage_location, loc->valuestring);
    }
    const cJSON *phase = get(status, "phase");
    if (!absent(phase) && !cJSON_IsString(phase))
        return errf(err, errlen, "%s: status.phase: not a string", what);
    if (cJSON_IsString(phase))
        clean_copy(out->phase, sizeof out->phase, phase->valuestring);
    out->cls = mig_velero_classify(out->phase);
    if (read_count(status, "errors", &out->errors, what, err, errlen) != 0 ||
        read_count(status, "warnings", &out->warnings, what, err, errlen) != 0 ||
        read_time(status, "startTimestamp", &out->started_ms, what, err, errlen) != 0 ||
        read_time(status, "completionTimestamp", &out->completed_ms, what, err, errlen) != 0 ||
        read_time_in(get(o, "metadata"), "metadata", "creationTimestamp", &out->created_ms, what,
                     err, errlen) != 0)
        return -1;
    return read_reason(status, out, what, err, errlen);
}

int mig_velero_get(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                   const char *name, int64_t now_ms, struct mig_vstatus *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (check_ns(velero_ns, err, errlen) != 0)
        return -1;
    if (!kube_name_valid(name))
        return errf(err, errlen, "%s name \"%.80s\": not 1..63 of [a-z0-9-]", kind_word(kind),
                    name ? name : "");
    char path[160];
    snprintf(path, sizeof path, VELERO_API "%s/%ss/%s", velero_ns, kind_word(kind), name);
    struct kube_req r = {.path = path};
    int rc = -1;
    if (kube_run(kc, &r, now_ms) != 0) {
        if (r.status == 404) {
            out->cls = MIG_V_GONE;
            rc = 0;
        } else {
            errf(err, errlen, "%s", r.error);
        }
    } else {
        rc = read_vobject(r.json, kind, name, out, err, errlen);
    }
    if (rc != 0) {
        memset(out, 0, sizeof *out);
        out->cls = MIG_V_RUNNING;
    }
    kube_req_clear(&r);
    return rc;
}

int mig_velero_delete(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                      const char *name, int64_t now_ms, char *err, size_t errlen)
{
    if (check_ns(velero_ns, err, errlen) != 0)
        return -1;
    if (!kube_name_valid(name))
        return errf(err, errlen, "%s name \"%.80s\": not 1..63 of [a-z0-9-]", kind_word(kind),
                    name ? name : "");
    char path[160];
    snprintf(path, sizeof path, VELERO_API "%s/%ss/%s", velero_ns, kind_word(kind), name);
    struct kube_req r = {.method = "DELETE", .path = path};
    int rc = kube_run(kc, &r, now_ms);
    if (rc != 0 && r.status == 404)
        rc = 0;
    else if (rc != 0)
        errf(err, errlen, "%s", r.error);
    kube_req_clear(&r);
    return rc;
}

/* ---- bytes moved ---- */

static int sum_uploads(const cJSON *list, enum mig_vkind kind, const char *name, const char *label,
                       double *bytes, char *err, size_t errlen)
{
    const char *list_kind = kind == MIG_RESTORE ? "PodVolumeRestoreList" : "PodVolumeBackupList";
    const cJSON *k = get(list, "kind");
    const cJSON *items = get(list, "items");
    if (!cJSON_IsObject(list) ||
        (k && !(cJSON_IsString(k) && strcmp(k->valuestring, list_kind) == 0)))
        return errf(err, errlen, "%s %s: the answer is not a %s", kind_word(kind), name, list_kind);
    if (!absent(items) && !cJSON_IsArray(items))
        return errf(err, errlen, "%s %s: %s items: not an array", kind_word(kind), name, list_kind);
    if (cJSON_GetArraySize(items) > MAX_VOLUME_UPLOADS)
        return errf(err, errlen, "%s %s: more than %d %s items", kind_word(kind), name,
                    MAX_VOLUME_UPLOADS, list_kind);
    double sum = 0;
    size_t i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        char what[160];
        const cJSON *iname = get(get(item, "metadata"), "name");
        if (cJSON_IsString(iname) && kube_name_valid(iname->valuestring))
            snprintf(what, sizeof what, "%s %s: %s", kind_word(kind), name, iname->valuestring);
        else
            snprintf(what, sizeof what, "%s %s: %s items[%zu]", kind_word(kind), name, list_kind,
                     i);
        if (!cJSON_IsObject(item))
            return errf(err, errlen, "%s: not an object", what);
        /* A server that ignored the selector would count others' bytes. */
        const cJSON *owner = get(get(get(item, "metadata"), "labels"), label);
        if (owner && !(cJSON_IsString(owner) && strcmp(owner->valuestring, name) == 0))
            return errf(err, errlen, "%s: metadata.labels %s: not %s", what, label, name);
        const cJSON *progress = get(get(item, "status"), "progress");
        if (!absent(progress) && !cJSON_IsObject(progress))
            return errf(err, errlen, "%s: status.progress: not an object", what);
        const cJSON *done = get(progress, "bytesDone");
        if (!absent(done)) {
            if (!cJSON_IsNumber(done) || !(done->valuedouble >= 0 && done->valuedouble <= 1e18) ||
                floor(done->valuedouble) != done->valuedouble)
                return errf(err, errlen, "%s: status.progress.bytesDone: not a whole number >= 0",
                            what);
            sum += done->valuedouble;
        }
        i++;
    }
    *bytes = sum;
    return 0;
}

int mig_velero_bytes(struct kube_client *kc, const char *velero_ns, enum mig_vkind kind,
                     const char *name, int64_t now_ms, double *bytes, char *err, size_t errlen)
{
    *bytes = 0;
    if (check_ns(velero_ns, err, errlen) != 0)
        return -1;
    if (!kube_name_valid(name))
        return errf(err, errlen, "%s name \"%.80s\": not 1..63 of [a-z0-9-]", kind_word(kind),
                    name ? name : "");
    const char *label = kind == MIG_RESTORE ? "velero.io/restore-name" : "velero.io/backup-name";
    char selector[128], escaped[256], path[400];
    snprintf(selector, sizeof selector, "%s=%s", label, name);
    if (kube_query_escape(selector, escaped, sizeof escaped) != 0)
        return errf(err, errlen, "%s %s: selector too long", kind_word(kind), name);
    snprintf(path, sizeof path, VELERO_API "%s/%s?labelSelector=%s", velero_ns,
             kind == MIG_RESTORE ? "podvolumerestores" : "podvolumebackups", escaped);
    struct kube_req r = {.path = path};
    int rc = -1;
    if (kube_run(kc, &r, now_ms) != 0)
        errf(err, errlen, "%s", r.error);
    else
        rc = sum_uploads(r.json, kind, name, label, bytes, err, errlen);
    kube_req_clear(&r);
    return rc;
}
