/*
 * api_imports — the answering side of SPEC 5's imports: POST /v1/imports
 * (a peer asks this site to restore its backup), GET /v1/imports/{id},
 * DELETE /v1/imports/{id} (an addition: the source rolling back asks us
 * to drop what we restored) and, for operators and tests, GET
 * /v1/imports; with the imports of /v1/status and floe_imports_total of
 * /metrics.
 *
 * The handlers check what the peer sends, record it (store/store_import.h,
 * which confirms or releases the reservation in the same transaction) and
 * wake the importer (core/importer.h), which does the work on the
 * cluster. A peer token sees and drops only the imports made under
 * reservations granted to it; an admin all.
 *
 * Asking again for a backup imported already (the peer's answer was lost,
 * or it restarted) answers 200 with the import as GET shows it, instead
 * of the 202 of a new one: nothing new was started, and the same id comes
 * back either way.
 */
#include "api/api_imports.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/importer.h"
#include "core/importer_kube.h"
#include "kube/kube_client.h"
#include "lib/json_util.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "migrator/mig_kube.h"
#include "store/store_import.h"

/* Workload names and reservation ids: what POST /v1/reservations
 * accepts and grants. */
#define IMPORT_NAME_MAX 64
#define IMPORT_LIST_MAX 100
#define IMPORT_ID_DIGITS_MAX 13 /* 2^40 */

/* ---- the answers ---- */

static cJSON *replicas_json(const char *text)
{
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    return o ? o : cJSON_CreateObject();
}

static cJSON *text_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* The import as GET answers it; with its events when events is set. */
static cJSON *import_json(struct api_call *c, const struct store_import *r, bool events)
{
    bool ok = true;
    char id[STORE_IMPORT_ID_SIZE];
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "id", cJSON_CreateString(id), &ok);
    api_jadd(o, "phase", cJSON_CreateString(store_import_phase_name(r->phase)), &ok);
    api_jadd(o, "error", text_or_null(r->error), &ok);
    api_jadd(o, "reservation", text_or_null(r->reservation), &ok);
    api_jadd(o, "workload", text_or_null(r->workload), &ok);
    api_jadd(o, "namespace", text_or_null(r->namespace_), &ok);
    api_jadd(o, "backup", text_or_null(r->backup), &ok);
    api_jadd(o, "restore", text_or_null(r->restore), &ok);
    api_jadd(o, "restore_s", api_json_number(r->restore_s), &ok);
    api_jadd(o, "restored_bytes", api_json_number(r->restored_bytes), &ok);
    api_jadd(o, "created", api_json_time(r->created_ms), &ok);
    api_jadd(o, "updated", api_json_time(r->updated_ms), &ok);
    /* Additions. */
    api_jadd(o, "from_site", text_or_null(r->from_site), &ok);
    api_jadd(o, "stateless", cJSON_CreateBool(r->stateless), &ok);
    api_jadd(o, "incremental", cJSON_CreateBool(r->incremental), &ok);
    api_jadd(o, "prestage", cJSON_CreateBool(r->prestage), &ok);
    api_jadd(o, "replicas", replicas_json(r->replicas), &ok);
    api_jadd(o, "attempts", cJSON_CreateNumber(r->attempts), &ok);
    api_jadd(o, "partial", cJSON_CreateBool(r->partial), &ok);
    api_jadd(o, "cleanup", cJSON_CreateString(store_import_cleanup_name(r->cleanup)), &ok);
    api_jadd(o, "dropped_by", text_or_null(r->dropped_by), &ok);
    api_jadd(o, "ended", api_json_time(r->ended_ms), &ok);
    api_jadd(o, "home", text_or_null(r->home), &ok);
    if (events) {
        struct store_import_event *ev = NULL;
        size_t n = 0;
        char err[256];
        if (store_import_events(c->a->store, r->id, &ev, &n, err, sizeof err) != 0) {
            log_err("import %lld: events unavailable: %s", (long long)r->id, err);
            ok = false;
        }
        cJSON *list = api_jadd(o, "events", cJSON_CreateArray(), &ok);
        for (size_t i = 0; list && i < n; i++) {
            cJSON *e = api_jadd(list, NULL, cJSON_CreateObject(), &ok);
            api_jadd(e, "phase", text_or_null(ev[i].phase), &ok);
            api_jadd(e, "ts", api_json_time(ev[i].ts_ms), &ok);
            api_jadd(e, "detail", text_or_null(ev[i].detail), &ok);
        }
        store_import_events_free(ev, n);
    }
    return api_json_finish(o, ok);
}

/* A peer token sees only its own imports; an admin sees all. */
static const char *owner_of(const struct api_call *c)
{
    return c->role == ROLE_ADMIN ? NULL : c->actor;
}

/* ---- checking the body ---- */

static bool name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > IMPORT_NAME_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == len;
}

/* A Kubernetes object name: [a-z0-9] at both ends, [a-z0-9-] (and '.'
 * unless label) between, at most max. */
static bool k8s_name_valid(const char *s, size_t max, bool label)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if ((i == 0 || i == len - 1) && !alnum)
            return false;
        if (!alnum && ch != '-' && (label || ch != '.'))
            return false;
    }
    return true;
}

static const char *const body_keys[] = {"reservation", "workload",    "namespace",
                                        "backup",      "stateless",   "replicas",
                                        "incremental", "prestage",    "home"};

/* The first key of body (an object) named twice, NULL if none: cJSON reads
 * the first, most parsers the last. */
static const char *key_twice(const cJSON *body, const char *const *keys, size_t nkeys)
{
    for (size_t i = 0; i < nkeys; i++) {
        int seen = 0;
        for (const cJSON *m = body->child; m; m = m->next)
            if (m->string && strcmp(m->string, keys[i]) == 0 && ++seen > 1)
                return keys[i];
    }
    return NULL;
}

/* A required string member that passes valid; answers 400 otherwise. */
static bool body_string(struct api_call *c, const cJSON *body, const char *key,
                        bool (*valid)(const char *), const char *rule, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v) {
        api_respond_error(c, 400, "%s: required", key);
        return false;
    }
    if (!cJSON_IsString(v) || !valid(v->valuestring)) {
        api_respond_error(c, 400, "%s: must be %s", key, rule);
        return false;
    }
    *out = v->valuestring;
    return true;
}

static bool namespace_valid(const char *s)
{
    return kube_name_valid(s);
}

static bool backup_valid(const char *s)
{
    return k8s_name_valid(s, 63, false);
}

/* A boolean member; absent is dflt, or a 400 when required. */
static bool body_bool(struct api_call *c, const cJSON *body, const char *key, bool required,
                      bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v && !required) {
        *out = false;
        return true;
    }
    if (!v) {
        api_respond_error(c, 400, "%s: required", key);
        return false;
    }
    if (!cJSON_IsBool(v)) {
        api_respond_error(c, 400, "%s: must be true or false", key);
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

/* replicas: {"deployment/NAME": N, "statefulset/NAME": N}, at most
 * MIG_MAX_OBJECTS, N a whole number 0..MIG_MAX_REPLICAS. *text gets it as
 * compact JSON (caller frees). */
static bool body_replicas(struct api_call *c, const cJSON *body, char **text)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "replicas");
    if (!v) {
        api_respond_error(c, 400, "replicas: required");
        return false;
    }
    if (!cJSON_IsObject(v)) {
        api_respond_error(c, 400,
                          "replicas: must be an object {\"deployment/NAME\": N, "
                          "\"statefulset/NAME\": N}");
        return false;
    }
    size_t n = 0;
    for (const cJSON *m = v->child; m; m = m->next, n++) {
        const char *key = m->string ? m->string : "";
        if (n == MIG_MAX_OBJECTS) {
            api_respond_error(c, 400, "replicas: at most %d objects", MIG_MAX_OBJECTS);
            return false;
        }
        const char *slash = strchr(key, '/');
        size_t kind = slash ? (size_t)(slash - key) : 0;
        bool known = slash && ((kind == 10 && strncmp(key, "deployment", kind) == 0) ||
                               (kind == 11 && strncmp(key, "statefulset", kind) == 0));
        if (!known || !k8s_name_valid(slash + 1, MIG_OBJ_NAME_MAX, false)) {
            api_respond_error(c, 400,
                              "replicas.%.80s: keys must be deployment/NAME or statefulset/NAME "
                              "(NAME a Kubernetes object name)",
                              key);
            return false;
        }
        for (const cJSON *p = v->child; p != m; p = p->next)
            if (strcmp(p->string, key) == 0) {
                api_respond_error(c, 400, "replicas.%s: given twice", key);
                return false;
            }
        if (!cJSON_IsNumber(m) || !(m->valuedouble >= 0) || !(m->valuedouble <= MIG_MAX_REPLICAS) ||
            floor(m->valuedouble) != m->valuedouble) {
            api_respond_error(c, 400, "replicas.%s: must be a whole number from 0 to %d", key,
                              MIG_MAX_REPLICAS);
            return false;
        }
    }
    *text = cJSON_PrintUnformatted(v);
    if (!*text) {
        api_respond_oom(c);
        return false;
    }
    return true;
}

/* Checks the body of POST /v1/imports into req (strings borrowed from
 * body, replicas a new string); answers 400 itself, naming the field.
 * Keys it does not know are ignored: a newer peer may send more. */
static bool parse_request(struct api_call *c, const cJSON *body, struct store_import_request *req,
                          char **replicas)
{
    if (!cJSON_IsObject(body)) {
        api_respond_error(c, 400, "body: must be a JSON object");
        return false;
    }
    const char *twice = key_twice(body, body_keys, ARRAY_LEN(body_keys));
    if (twice) {
        api_respond_error(c, 400, "%s: given twice", twice);
        return false;
    }
    if (!body_string(c, body, "reservation", name_valid,
                     "a reservation id (a string of 1 to 64 letters, digits, '_', '-' or '.')",
                     &req->reservation) ||
        !body_string(c, body, "workload", name_valid,
                     "a string of 1 to 64 letters, digits, '_', '-' or '.'", &req->workload) ||
        !body_string(c, body, "namespace", namespace_valid,
                     "a namespace name (a DNS-1123 label: a-z, 0-9 and '-', at most 63, starting "
                     "and ending with a letter or digit)",
                     &req->namespace_) ||
        !body_string(c, body, "backup", backup_valid,
                     "a Velero Backup's name (a-z, 0-9, '-' and '.', at most 63, starting and "
                     "ending with a letter or digit)",
                     &req->backup) ||
        !body_bool(c, body, "stateless", true, &req->stateless) ||
        !body_replicas(c, body, replicas))
        return false;
    if (!body_bool(c, body, "incremental", false, &req->incremental) ||
        !body_bool(c, body, "prestage", false, &req->prestage))
        return false;
    if (req->incremental && req->prestage) {
        api_respond_error(c, 400, "prestage: cannot be combined with incremental");
        return false;
    }
    /* An addition: the workload's home, when it is not the sender (a
     * levelled workload's home moves with it); absent or null: the
     * sender. */
    const cJSON *home = cJSON_GetObjectItemCaseSensitive(body, "home");
    if (home && !cJSON_IsNull(home)) {
        if (!cJSON_IsString(home) || !name_valid(home->valuestring)) {
            api_respond_error(c, 400,
                              "home: must be a site name (a string of 1 to 64 letters, digits, "
                              "'_', '-' or '.')");
            return false;
        }
        req->home = home->valuestring;
    }
    req->replicas = *replicas;
    req->caller = owner_of(c);
    return true;
}

/* ---- POST ---- */

static void answer_no_cluster(struct api_call *c, const char *why)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "error", cJSON_CreateString(why), &ok);
    api_jadd(o, "code", cJSON_CreateString("no_kubernetes"), &ok);
    api_respond_json(c, 409, api_json_finish(o, ok));
}

void api_handle_import_post(struct api_call *c, const char *param)
{
    (void)param;
    if (!c->req->body || c->req->body_len == 0) {
        api_respond_error(c, 400,
                          "body: a JSON object {\"reservation\", \"workload\", \"namespace\", "
                          "\"backup\", \"stateless\", \"replicas\"} is required");
        return;
    }
    char err[512];
    cJSON *body = json_parse_commented(c->req->body, c->req->body_len, err, sizeof err);
    if (!body) {
        api_respond_error(c, 400, "body: %s", err);
        return;
    }
    struct store_import_request req = {0};
    char *replicas = NULL;
    if (!parse_request(c, body, &req, &replicas))
        goto out;
    char why[320];
    if (!importer_kube_configured(c->cfg, why, sizeof why)) {
        log_info("import of %s for %s refused to %s: %s", req.backup, req.workload, c->actor, why);
        answer_no_cluster(c, why);
        goto out;
    }
    struct store_import r;
    int rc =
        store_import_create(c->a->store, &req, c->now_ms, &r, why, sizeof why, err, sizeof err);
    if (rc < 0) {
        log_err("import of %s for %s (token %s) not recorded: %s", req.backup, req.workload,
                c->actor, err);
        api_respond_error(c, 500, "import not recorded: %s", err);
    } else if (rc == STORE_CONFLICT) {
        log_info("import of %s for %s refused to %s: %s", req.backup, req.workload, c->actor, why);
        api_respond_error(c, 409, "%s", why);
    } else if (rc == STORE_IMPORT_EXISTING) {
        log_info("import %lld of %s asked for again by %s: it is %s", (long long)r.id, r.backup,
                 c->actor, store_import_phase_name(r.phase));
        api_respond_json(c, 200, import_json(c, &r, true));
        store_import_clear(&r);
    } else {
        log_info("import %lld of backup %s into namespace %s for %s (reservation %s, confirmed) "
                 "asked by %s",
                 (long long)r.id, r.backup, r.namespace_, r.workload, r.reservation, c->actor);
        importer_wake(c->a->importer);
        bool ok = true;
        char id[STORE_IMPORT_ID_SIZE];
        snprintf(id, sizeof id, "%lld", (long long)r.id);
        cJSON *o = cJSON_CreateObject();
        api_jadd(o, "id", cJSON_CreateString(id), &ok);
        api_jadd(o, "phase", cJSON_CreateString(store_import_phase_name(r.phase)), &ok);
        store_import_clear(&r);
        api_respond_json(c, 202, api_json_finish(o, ok));
    }
out:
    free(replicas);
    cJSON_Delete(body);
}

/* ---- GET, DELETE ---- */

/* An id as this site makes them: 1 to 13 digits, no leading 0. Anything
 * else was never an id and is not echoed. */
static bool id_parse(const char *param, int64_t *id)
{
    char text[IMPORT_ID_DIGITS_MAX + 2];
    size_t len = api_param_copy(param, text, sizeof text);
    if (len == 0 || len > IMPORT_ID_DIGITS_MAX || text[0] == '0' ||
        strspn(text, "0123456789") != len)
        return false;
    *id = strtoll(text, NULL, 10);
    return *id > 0;
}

void api_handle_import(struct api_call *c, const char *param)
{
    int64_t id;
    if (!id_parse(param, &id)) {
        api_respond_error(c, 404, "no such import (ids are whole numbers)");
        return;
    }
    struct store_import r;
    char err[256];
    int rc = store_import_get(c->a->store, id, owner_of(c), &r, err, sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no import %lld", (long long)id);
        return;
    }
    if (rc != 0) {
        api_respond_error(c, 500, "import unavailable: %s", err);
        return;
    }
    api_respond_json(c, 200, import_json(c, &r, true));
    store_import_clear(&r);
}

void api_handle_import_delete(struct api_call *c, const char *param)
{
    int64_t id;
    if (!id_parse(param, &id)) {
        api_respond_error(c, 404, "no such import (ids are whole numbers)");
        return;
    }
    struct store_import r;
    char err[256];
    int rc =
        store_import_drop(c->a->store, id, owner_of(c), c->actor, c->now_ms, &r, err, sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no import %lld", (long long)id);
        return;
    }
    if (rc < 0) {
        log_err("import %lld: drop by %s failed: %s", (long long)id, c->actor, err);
        api_respond_error(c, 500, "import not dropped: %s", err);
        return;
    }
    if (rc == 0) {
        log_info("import %lld (%s from %s) dropped by %s: reservation %s released%s",
                 (long long)r.id, r.workload, r.from_site, c->actor, r.reservation,
                 r.cleanup == STORE_IMPORT_CLEANUP_PENDING ? "; deleting the namespace it made"
                                                           : "");
        importer_wake(c->a->importer);
    }
    /* Dropped before: answered like a drop, so that a DELETE repeated
     * after a lost answer does not look like a failure. */
    api_respond_json(c, 200, import_json(c, &r, false));
    store_import_clear(&r);
}

void api_handle_imports(struct api_call *c, const char *param)
{
    (void)param;
    struct store_import *rows = NULL;
    size_t n = 0;
    char err[256];
    if (store_import_list(c->a->store, false, owner_of(c), IMPORT_LIST_MAX, &rows, &n, err,
                          sizeof err) != 0) {
        api_respond_error(c, 500, "imports unavailable: %s", err);
        return;
    }
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = api_jadd(root, "imports", cJSON_CreateArray(), &ok);
    for (size_t i = 0; list && i < n; i++)
        api_jadd(list, NULL, import_json(c, &rows[i], false), &ok);
    store_import_rows_free(rows, n);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* ---- status, metrics ---- */

bool api_status_imports(struct api_call *c, cJSON *status)
{
    struct store_import_counts n;
    char err[256];
    bool ok = true;
    if (store_import_counts(c->a->store, &n, err, sizeof err) != 0) {
        log_err("/v1/status: imports unavailable: %s", err);
        api_jadd(status, "imports", cJSON_CreateNull(), &ok);
        return ok;
    }
    cJSON *o = api_jadd(status, "imports", cJSON_CreateObject(), &ok);
    api_jadd(o, "active", cJSON_CreateNumber((double)n.active), &ok);
    api_jadd(o, "ready", cJSON_CreateNumber((double)n.ready), &ok);
    api_jadd(o, "failed", cJSON_CreateNumber((double)n.failed), &ok);
    api_jadd(o, "dropped", cJSON_CreateNumber((double)n.dropped), &ok);
    return ok;
}

char *api_prom_imports(struct api_call *c)
{
    struct store_import_counts n;
    char err[256];
    /* No samples rather than made-up zeros when the store cannot be read. */
    bool known = store_import_counts(c->a->store, &n, err, sizeof err) == 0;
    if (!known)
        log_err("/metrics: imports unavailable: %s", err);
    struct strbuf t = {0};
    strbuf_puts(&t, "# HELP floe_imports_total Imports this site carried out for peers, by how "
                    "they ended: ready (became ready, also when dropped later), failed (on "
                    "their own), dropped (by the peer's DELETE).\n"
                    "# TYPE floe_imports_total counter\n");
    char lines[256];
    if (known) {
        snprintf(lines, sizeof lines,
                 "floe_imports_total{result=\"ready\"} %lld\n"
                 "floe_imports_total{result=\"failed\"} %lld\n"
                 "floe_imports_total{result=\"dropped\"} %lld\n",
                 (long long)n.ready, (long long)n.failed, (long long)n.dropped);
        strbuf_puts(&t, lines);
    }
    strbuf_puts(&t, "# HELP floe_imports_active Imports for peers under way.\n"
                    "# TYPE floe_imports_active gauge\n");
    if (known) {
        snprintf(lines, sizeof lines, "floe_imports_active %lld\n", (long long)n.active);
        strbuf_puts(&t, lines);
    }
    return strbuf_take(&t);
}
