/*
 * api_migrations — see api_migrations.h. A migration as JSON is SPEC 4's
 * {"id", "workload", "from", "to", "phase", "started", "ended",
 * "downtime_s", "events": [{"phase", "ts", "detail"}]} and, as additions
 * (docs/api.md), "result", "namespace", "stateless", "kw", "data_gb",
 * "hostname", "reservation", "decision_id", "estimated_downtime_s",
 * "bytes", "phase_s", "backup", "import", "replicas", "error",
 * "abort_requested", "retain_until", "source_deleted".
 *
 * The handlers read the store; creating and aborting write it and wake
 * the migrator, which does the work (a manual migration reserves at the
 * peer first, as an approve does: the one call to a peer from an HTTP
 * thread, under the placement lock).
 */
#include "api/api_migrations.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/migrator.h"
#include "lib/json_util.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "store/store_mig.h"

#define MIGRATIONS_DEFAULT_LIMIT 100
#define MIGRATIONS_MAX_LIMIT 1000
#define MIGRATION_EVENTS_MAX 500 /* per migration in an answer */

const double api_downtime_buckets_s[API_DOWNTIME_BUCKETS] = {0,    60,   300,  600,
                                                             1200, 1800, 3600, 7200};

static cJSON *opt_time(int64_t ms)
{
    return ms > 0 ? api_json_time(ms) : cJSON_CreateNull();
}

static cJSON *opt_number(double v)
{
    return isfinite(v) ? api_json_number(v) : cJSON_CreateNull();
}

static cJSON *opt_string(const char *s)
{
    return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *migration_json(struct api_call *c, const struct store_mig *m)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "id", cJSON_CreateNumber((double)m->id), &ok);
    api_jadd(o, "workload", cJSON_CreateString(m->workload), &ok);
    api_jadd(o, "from", cJSON_CreateString(c->cfg->site.name ? c->cfg->site.name : ""), &ok);
    api_jadd(o, "to", cJSON_CreateString(m->peer), &ok);
    api_jadd(o, "phase", cJSON_CreateString(m->phase), &ok);
    api_jadd(o, "started", api_json_time(m->created_ms), &ok);
    api_jadd(o, "ended", opt_time(m->ended_ms), &ok);
    api_jadd(o, "downtime_s", opt_number(m->downtime_s), &ok);
    api_jadd(o, "result", opt_string(m->result), &ok);
    api_jadd(o, "namespace", cJSON_CreateString(m->namespace_), &ok);
    api_jadd(o, "stateless", cJSON_CreateBool(m->stateless), &ok);
    api_jadd(o, "kw", api_json_number(m->kw), &ok);
    api_jadd(o, "data_gb", api_json_number(m->data_gb), &ok);
    api_jadd(o, "hostname", opt_string(m->hostname), &ok);
    api_jadd(o, "reservation", cJSON_CreateString(m->reservation), &ok);
    api_jadd(o, "decision_id",
             m->decision_id ? cJSON_CreateNumber((double)m->decision_id) : cJSON_CreateNull(), &ok);
    api_jadd(o, "estimated_downtime_s", opt_number(m->estimated_downtime_s), &ok);
    api_jadd(o, "bytes", api_json_number(m->bytes), &ok);
    cJSON *ps = api_jadd(o, "phase_s", cJSON_CreateObject(), &ok);
    api_jadd(ps, "precopy", api_json_number(m->precopy_s), &ok);
    api_jadd(ps, "delta", api_json_number(m->delta_s), &ok);
    api_jadd(ps, "switchover", api_json_number(m->switchover_s), &ok);
    api_jadd(ps, "restoring", api_json_number(m->restoring_s), &ok);
    api_jadd(ps, "cutover", api_json_number(m->cutover_s), &ok);
    api_jadd(o, "backup", opt_string(m->last_backup), &ok);
    api_jadd(o, "import", opt_string(m->import_id), &ok);
    if (m->prestage_state[0]) {
        cJSON *pre = api_jadd(o, "prestage", cJSON_CreateObject(), &ok);
        api_jadd(pre, "state", cJSON_CreateString(m->prestage_state), &ok);
        api_jadd(pre, "backup", cJSON_CreateString(m->prestage_backup), &ok);
        api_jadd(pre, "import", opt_string(m->prestage_id), &ok);
    } else {
        api_jadd(o, "prestage", cJSON_CreateNull(), &ok);
    }
    cJSON *reps = api_jadd(o, "replicas",
                           m->replicas_recorded ? cJSON_CreateObject() : cJSON_CreateNull(), &ok);
    for (size_t i = 0; m->replicas_recorded && i < m->nreplicas; i++)
        api_jadd(reps, m->replicas[i].key, cJSON_CreateNumber(m->replicas[i].replicas), &ok);
    api_jadd(o, "error", opt_string(m->error), &ok);
    api_jadd(o, "abort_requested", cJSON_CreateBool(m->abort_requested), &ok);
    /* An addition: it rolls back because of the abort (a fault may have
     * started the rollback in the tick the abort was asked). */
    api_jadd(o, "aborted", cJSON_CreateBool(store_mig_aborted(m)), &ok);
    api_jadd(o, "retain_until",
             !strcmp(m->result, "done") ? opt_time(m->retain_until_ms) : cJSON_CreateNull(), &ok);
    api_jadd(o, "source_deleted", opt_time(m->source_deleted_ms), &ok);

    cJSON *events = api_jadd(o, "events", cJSON_CreateArray(), &ok);
    struct store_mig_event *ev = NULL;
    size_t nev = 0;
    char err[256];
    if (store_mig_events(c->a->store, m->id, MIGRATION_EVENTS_MAX, &ev, &nev, err, sizeof err) != 0)
        log_err("migration %lld: events unreadable: %s", (long long)m->id, err);
    for (size_t i = 0; i < nev && ok; i++) {
        cJSON *e = api_jadd(events, NULL, cJSON_CreateObject(), &ok);
        api_jadd(e, "phase", cJSON_CreateString(ev[i].phase), &ok);
        api_jadd(e, "ts", api_json_time(ev[i].ts_ms), &ok);
        api_jadd(e, "detail", cJSON_CreateString(ev[i].detail), &ok);
    }
    free(ev);
    return api_json_finish(o, ok);
}

/* ---- GET ---- */

void api_handle_migrations(struct api_call *c, const char *param)
{
    (void)param;
    char buf[32];
    bool active = false;
    int got = api_query_param(c->req->query, "active", buf, sizeof buf);
    if (got != 0) {
        if (got > 0 && (strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0))
            active = true;
        else if (got > 0 && (strcmp(buf, "false") == 0 || strcmp(buf, "0") == 0))
            active = false;
        else {
            api_respond_error(c, 400, "active: expected true or false");
            return;
        }
    }
    long limit = MIGRATIONS_DEFAULT_LIMIT;
    got = api_query_param(c->req->query, "limit", buf, sizeof buf);
    if (got != 0) {
        char *end;
        errno = 0;
        limit = got > 0 ? strtol(buf, &end, 10) : -1;
        if (got < 0 || errno || *end || end == buf || limit < 1 || limit > MIGRATIONS_MAX_LIMIT) {
            api_respond_error(c, 400, "limit: expected a whole number from 1 to %d",
                              MIGRATIONS_MAX_LIMIT);
            return;
        }
    }
    struct store_mig *rows = NULL;
    size_t n = 0;
    char err[256];
    if (store_mig_list(c->a->store, active, (size_t)limit, &rows, &n, err, sizeof err) != 0) {
        api_respond_error(c, 500, "migrations unavailable: %s", err);
        return;
    }
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = api_jadd(root, "migrations", cJSON_CreateArray(), &ok);
    for (size_t i = 0; i < n && ok; i++)
        api_jadd(list, NULL, migration_json(c, &rows[i]), &ok);
    free(rows);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* Parses the {id} of a migration path; answers 400 itself when bad. */
static bool migration_id(struct api_call *c, const char *param, int64_t *id)
{
    char buf[32];
    char *end;
    errno = 0;
    long long v = api_param_copy(param, buf, sizeof buf) ? strtoll(buf, &end, 10) : -1;
    if (v < 1 || errno || *end) {
        api_respond_error(c, 400, "id: expected a migration id (a whole number from 1)");
        return false;
    }
    *id = v;
    return true;
}

/* Answers with migration id as it is now (status 200, or as given). */
static void answer_migration(struct api_call *c, int64_t id, int status)
{
    struct store_mig *m = malloc(sizeof *m);
    char err[256];
    int rc = m ? store_mig_get(c->a->store, id, m, err, sizeof err) : -1;
    if (!m)
        api_respond_oom(c);
    else if (rc == STORE_NOT_FOUND)
        api_respond_error(c, 404, "no migration %lld", (long long)id);
    else if (rc != 0)
        api_respond_error(c, 500, "migration unavailable: %s", err);
    else
        api_respond_json(c, status, migration_json(c, m));
    free(m);
}

void api_handle_migration(struct api_call *c, const char *param)
{
    int64_t id;
    if (migration_id(c, param, &id))
        answer_migration(c, id, 200);
}

/* ---- POST ---- */

/* A string field of the body: a name as the config has them. */
static bool body_string(struct api_call *c, const cJSON *body, const char *key, const char **out)
{
    int seen = 0;
    for (const cJSON *m = body->child; m; m = m->next)
        seen += m->string && strcmp(m->string, key) == 0;
    if (seen > 1) {
        api_respond_error(c, 400, "%s: given twice", key);
        return false;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v) {
        api_respond_error(c, 400, "%s: required", key);
        return false;
    }
    size_t len = cJSON_IsString(v) ? strlen(v->valuestring) : 0;
    bool name = len > 0 && len < STORE_MIG_NAME_MAX;
    for (const char *p = name ? v->valuestring : ""; *p && name; p++)
        name = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '_' || *p == '-' || *p == '.';
    if (!name) {
        api_respond_error(c, 400, "%s: must be a name (1 to %d letters, digits, '_', '-' or '.')",
                          key, STORE_MIG_NAME_MAX - 1);
        return false;
    }
    *out = v->valuestring;
    return true;
}

void api_handle_migration_post(struct api_call *c, const char *param)
{
    (void)param;
    if (!c->req->body || c->req->body_len == 0) {
        api_respond_error(c, 400, "body: a JSON object {\"workload\", \"to\"} is required");
        return;
    }
    char err[400];
    cJSON *body = json_parse_commented(c->req->body, c->req->body_len, err, sizeof err);
    if (!body) {
        api_respond_error(c, 400, "body: %s", err);
        return;
    }
    const char *workload, *to;
    if (!cJSON_IsObject(body)) {
        api_respond_error(c, 400, "body: must be a JSON object {\"workload\", \"to\"}");
    } else if (body_string(c, body, "workload", &workload) && body_string(c, body, "to", &to)) {
        if (!c->a->migrator) {
            api_respond_error(c, 409, "this agent runs no migrator");
        } else {
            int64_t id = 0;
            int rc = migrator_manual(c->a->migrator, c->cfg, workload, to, c->actor, c->now_ms, &id,
                                     err, sizeof err);
            if (rc == 0) {
                log_warn("migration %lld: %s → %s started by %s", (long long)id, workload, to,
                         c->actor);
                answer_migration(c, id, 201);
            } else {
                api_respond_error(c, rc, "%s", err);
            }
        }
    }
    cJSON_Delete(body);
}

void api_handle_migration_abort(struct api_call *c, const char *param)
{
    int64_t id;
    if (!migration_id(c, param, &id))
        return;
    char why[300], err[256];
    int rc =
        store_mig_abort(c->a->store, id, c->actor, c->now_ms, why, sizeof why, err, sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no migration %lld", (long long)id);
        return;
    }
    if (rc == STORE_CONFLICT) {
        api_respond_error(c, 409, "%s", why);
        return;
    }
    if (rc != 0) {
        api_respond_error(c, 500, "abort not recorded: %s", err);
        return;
    }
    log_warn("migration %lld: abort requested by %s; it rolls back", (long long)id, c->actor);
    migrator_wake(c->a->migrator);
    answer_migration(c, id, 202);
}

/* ---- status and metrics ---- */

bool api_status_migrations(struct api_call *c, cJSON *status)
{
    int64_t n = 0;
    char err[256];
    bool known = c->a->store && store_mig_active_count(c->a->store, &n, err, sizeof err) == 0;
    if (!known && c->a->store)
        log_err("/v1/status: migrations unknown: %s", err);
    bool ok = true;
    api_jadd(status, "migrations_active",
             known ? cJSON_CreateNumber((double)n) : cJSON_CreateNull(), &ok);
    return ok;
}

struct result_counts {
    int64_t done, rolled_back, failed, aborted;
};

static void count_result(void *ctx, const char *result, int64_t n)
{
    struct result_counts *r = ctx;
    if (strcmp(result, "done") == 0)
        r->done = n;
    else if (strcmp(result, "rolled-back") == 0)
        r->rolled_back = n;
    else if (strcmp(result, "failed") == 0)
        r->failed = n;
    else if (strcmp(result, "aborted") == 0)
        r->aborted = n;
}

char *api_prom_migrations(struct api_call *c)
{
    struct strbuf t = {0};
    struct result_counts rc = {0};
    char err[256];
    if (store_mig_counts(c->a->store, count_result, &rc, err, sizeof err) != 0)
        log_err("/metrics: migration counts unavailable: %s", err);
    /* Every result always, so a rate() sees the first one start from 0. */
    strbuf_printf(&t,
                  "# HELP floe_migrations_total Migrations from this site that ended, by "
                  "result (rolled-back: on a fault; aborted: rolled back on floe abort).\n"
                  "# TYPE floe_migrations_total counter\n"
                  "floe_migrations_total{result=\"done\"} %lld\n"
                  "floe_migrations_total{result=\"rolled-back\"} %lld\n"
                  "floe_migrations_total{result=\"failed\"} %lld\n"
                  "floe_migrations_total{result=\"aborted\"} %lld\n",
                  (long long)rc.done, (long long)rc.rolled_back, (long long)rc.failed,
                  (long long)rc.aborted);
    double *dt = NULL;
    size_t n = 0;
    if (store_mig_downtimes(c->a->store, &dt, &n, err, sizeof err) != 0)
        log_err("/metrics: migration downtimes unavailable: %s", err);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += dt[i];
    strbuf_printf(&t, "# HELP floe_migration_downtime_seconds How long each migration from this "
                      "site that ended done kept its workload unreachable.\n"
                      "# TYPE floe_migration_downtime_seconds histogram\n");
    for (size_t b = 0; b < API_DOWNTIME_BUCKETS; b++) {
        size_t in = 0;
        for (size_t i = 0; i < n; i++)
            in += dt[i] <= api_downtime_buckets_s[b];
        strbuf_printf(&t, "floe_migration_downtime_seconds_bucket{le=\"%g\"} %zu\n",
                      api_downtime_buckets_s[b], in);
    }
    strbuf_printf(&t,
                  "floe_migration_downtime_seconds_bucket{le=\"+Inf\"} %zu\n"
                  "floe_migration_downtime_seconds_sum %.17g\n"
                  "floe_migration_downtime_seconds_count %zu\n",
                  n, sum, n);
    free(dt);
    return strbuf_take(&t);
}
