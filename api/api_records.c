/*
 * api_records — the HTTP handlers for policies and decisions (SPEC 4):
 * GET /v1/policies, PUT and DELETE /v1/policies/{name}, GET
 * /v1/decisions[/{id}], POST /v1/decisions/{id}/approve|reject, and their
 * two families of /metrics.
 *
 * Policy states come from the evaluator's published snapshot; decisions
 * and API-managed policies from the store. Changes go to the store (with
 * their audit record, in one transaction) and the evaluator is told to
 * rebuild; no handler changes a policy's state. GET /v1/policies does
 * evaluate each policy's `when` once more, over a snapshot of the live
 * metrics, only to report what it reads ("inputs") — the values a person
 * needs to judge an alarm without looking them up.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_records.h"
#include "core/evaluator.h"
#include "core/live_env.h"
#include "core/placer.h"
#include "core/rebalancer.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "policies/decision.h"
#include "policies/pol_engine.h"

#define DECISIONS_DEFAULT_LIMIT 100
#define DECISIONS_MAX_LIMIT 1000
/* Most inputs listed per policy: a glob over a few hundred racks must not
 * turn /v1/policies into a telemetry dump. */
#define POLICY_INPUTS_MAX 20

static const char *mode_name(enum pol_mode m)
{
    return m == POL_MODE_AUTO ? "auto" : m == POL_MODE_APPROVE ? "approve" : "observe";
}

static const char *severity_name(enum pol_severity s)
{
    return s == POL_SEV_CRITICAL ? "critical" : "warning";
}

static bool is_config_policy(const struct floe_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->npolicies; i++)
        if (strcmp(cfg->policies[i].name, name) == 0)
            return true;
    return false;
}

/* ---- policies ---- */

/* What a running policy says (its description and `when`), copied from
 * the config file or, for an API-managed policy, from its stored body. */
struct policy_text {
    char *name, *description, *when;
};

struct policy_texts {
    struct policy_text *v;
    size_t n, cap;
};

static void collect_api_text(void *ctx, const char *name, const char *body)
{
    struct policy_texts *t = ctx;
    cJSON *o = cJSON_Parse(body);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(o, "description");
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(o, "when");
    if (vec_reserve(t->v, t->cap, t->n + 1) == 0)
        t->v[t->n++] = (struct policy_text){
            util_strdup(name), util_strdup(cJSON_IsString(desc) ? desc->valuestring : ""),
            util_strdup(cJSON_IsString(when) ? when->valuestring : "")};
    cJSON_Delete(o);
}

static void policy_texts_free(struct policy_texts *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].name);
        free(t->v[i].description);
        free(t->v[i].when);
    }
    free(t->v);
}

/* The description and `when` of a policy the evaluator runs; NULL when
 * its definition went away since (a reload or DELETE between the tick and
 * this request). */
static const struct policy_text *find_text(const struct floe_config *cfg,
                                           const struct policy_texts *api,
                                           const struct eval_policy_status *st,
                                           struct policy_text *scratch)
{
    if (!st->from_api) {
        for (size_t i = 0; i < cfg->npolicies; i++) {
            if (strcmp(cfg->policies[i].name, st->name) == 0) {
                *scratch = (struct policy_text){cfg->policies[i].name, cfg->policies[i].description,
                                                cfg->policies[i].when};
                return scratch;
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < api->n; i++)
        if (api->v[i].name && strcmp(api->v[i].name, st->name) == 0)
            return &api->v[i];
    return NULL;
}

/* Records what an expression reads. It begins with the live_env so that
 * the live_env callbacks, which take env.ctx as their live_env, and
 * record_input, which takes it as the probe, share one ctx. */
struct input_probe {
    struct live_env le;
    cJSON *inputs;
    bool ok;
};

static void record_input(void *ctx, const char *name, double value, int good)
{
    struct input_probe *p = ctx;
    if (cJSON_GetObjectItemCaseSensitive(p->inputs, name) ||
        cJSON_GetArraySize(p->inputs) >= POLICY_INPUTS_MAX)
        return;
    api_jadd(p->inputs, name, good ? api_json_number(value) : cJSON_CreateNull(), &p->ok);
}

/* {metric: value} for what `when` reads now (null for an unknown value);
 * names as pol_env.input gives them: metrics, glob members, history calls
 * ("avg_over(it.load_kw, 5m)"). hour() and weekday() are left unknown
 * here (no zone is loaded per request), which can only make the list
 * longer: Kleene && and || then read both sides. */
static cJSON *when_inputs(const char *when, const struct metric_snapshot *snap, size_t n,
                          struct store *store, int64_t now_ms)
{
    struct input_probe p = {
        .le = {.snap = snap, .n = n, .store = store}, .inputs = cJSON_CreateObject(), .ok = true};
    char err[256];
    struct pol_expr *e = when && *when ? pol_parse(when, err, sizeof err) : NULL;
    if (e && p.inputs) {
        struct pol_env env = {0};
        live_env_bind(&p.le, &env);
        env.input = record_input;
        env.now_ms = now_ms;
        pol_eval_truth(e, &env);
    }
    pol_free(e);
    return api_json_finish(p.inputs, p.ok);
}

void api_handle_policies(struct api_call *c, const char *param)
{
    (void)param;
    struct eval_policy_status *st = NULL;
    size_t n = c->a->evaluator ? eval_statuses(c->a->evaluator, &st) : 0;
    struct policy_texts api = {0};
    char err[256];
    if (n && store_policies(c->a->store, collect_api_text, &api, err, sizeof err) != 0)
        log_warn("/v1/policies: API-managed policies unreadable: %s", err);
    struct metric_snapshot *snap = NULL;
    size_t nsnap = n ? metrics_snapshot(c->a->metrics, c->now_ms, &snap) : 0;
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = api_jadd(root, "policies", cJSON_CreateArray(), &ok);
    for (size_t i = 0; list && i < n; i++) {
        cJSON *p = api_jadd(list, NULL, cJSON_CreateObject(), &ok);
        if (!p)
            break;
        struct policy_text scratch;
        const struct policy_text *text = find_text(c->cfg, &api, &st[i], &scratch);
        api_jadd(p, "name", cJSON_CreateString(st[i].name), &ok);
        api_jadd(p, "state", cJSON_CreateString(pol_state_name(st[i].state)), &ok);
        api_jadd(p, "since", api_json_time(st[i].since_ms), &ok);
        api_jadd(p, "unknown", cJSON_CreateBool(st[i].unknown), &ok);
        api_jadd(p, "in_window", cJSON_CreateBool(st[i].in_window), &ok);
        api_jadd(p, "mode", cJSON_CreateString(mode_name(st[i].mode)), &ok);
        api_jadd(p, "severity", cJSON_CreateString(severity_name(st[i].severity)), &ok);
        api_jadd(p, "last_decision",
                 st[i].last_decision_id ? cJSON_CreateNumber((double)st[i].last_decision_id)
                                        : cJSON_CreateNull(),
                 &ok);
        api_jadd(p, "source", cJSON_CreateString(st[i].from_api ? "api" : "config"), &ok);
        /* Additions: what the policy is about, and what it reads now. */
        api_jadd(p, "description",
                 text ? cJSON_CreateString(text->description ? text->description : "")
                      : cJSON_CreateNull(),
                 &ok);
        api_jadd(p, "when",
                 text ? cJSON_CreateString(text->when ? text->when : "") : cJSON_CreateNull(), &ok);
        api_jadd(p, "inputs",
                 text ? when_inputs(text->when, snap, nsnap, c->a->store, c->now_ms)
                      : cJSON_CreateObject(),
                 &ok);
    }
    free(snap);
    policy_texts_free(&api);
    free(st);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

void api_handle_policy_put(struct api_call *c, const char *param)
{
    char name[96];
    if (!api_param_copy(param, name, sizeof name)) {
        api_respond_error(c, 400, "name: too long");
        return;
    }
    if (!c->req->body || c->req->body_len == 0) {
        api_respond_error(c, 400, "body: a policy object is required");
        return;
    }
    if (is_config_policy(c->cfg, name)) {
        api_respond_error(c, 409,
                          "policy %s is defined in %s; change it there (the API manages only "
                          "its own policies)",
                          name, c->cfg->path);
        return;
    }
    struct cfg_errors errs = { 0 };
    struct cfg_policy p;
    if (cfg_parse_policy_json(c->req->body, c->req->body_len, "body", &p, &errs) != 0) {
        api_respond_error(c, 400, "%s%s", errs.n ? errs.lines[0] : "body: invalid policy",
                          errs.n > 1 ? " (and more errors)" : "");
        cfg_errors_clear(&errs);
        return;
    }
    char err[512];
    if (strcmp(p.name, name) != 0) {
        api_respond_error(c, 400, "body.name: '%s' differs from the name in the path ('%s')",
                          p.name, name);
        goto out;
    }
    if (pol_policy_check(&p, "body", err, sizeof err) != 0) {
        api_respond_error(c, 400, "%s", err);
        goto out;
    }
    /* Store the text as sent (re-serialised without comments), so GET
     * shows what the operator wrote. */
    cJSON *body = cJSON_ParseWithLength(c->req->body, c->req->body_len);
    if (!body) {
        api_respond_error(c, 400, "body: comments are not accepted here; send plain JSON");
        goto out;
    }
    char *text = cJSON_PrintUnformatted(body);
    if (!text) {
        cJSON_Delete(body);
        api_respond_oom(c);
        goto out;
    }
    if (store_policy_put(c->a->store, name, text, c->actor, c->now_ms, err, sizeof err) != 0) {
        log_err("policy %s: not stored: %s", name, err);
        api_respond_error(c, 500, "policy not stored: %s", err);
        cJSON_Delete(body);
        cJSON_free(text);
        goto out;
    }
    cJSON_free(text);
    log_info("policy %s stored by %s over the API", name, c->actor);
    if (c->a->evaluator)
        eval_policies_changed(c->a->evaluator);
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "name", cJSON_CreateString(name), &ok);
    api_jadd(root, "source", cJSON_CreateString("api"), &ok);
    api_jadd(root, "policy", body, &ok);
    api_respond_json(c, 200, api_json_finish(root, ok));
out:
    cfg_policy_clear(&p);
}

void api_handle_policy_delete(struct api_call *c, const char *param)
{
    char name[96];
    if (!api_param_copy(param, name, sizeof name)) {
        api_respond_error(c, 404, "no API-managed policy with that name");
        return;
    }
    if (is_config_policy(c->cfg, name)) {
        api_respond_error(c, 409, "policy %s is defined in %s; remove it there", name,
                          c->cfg->path);
        return;
    }
    char err[256];
    int rc = store_policy_delete(c->a->store, name, c->actor, c->now_ms, err, sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no API-managed policy named %s", name);
        return;
    }
    if (rc != 0) {
        api_respond_error(c, 500, "policy not deleted: %s", err);
        return;
    }
    log_info("policy %s deleted by %s over the API", name, c->actor);
    if (c->a->evaluator)
        eval_policies_changed(c->a->evaluator);
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "deleted", cJSON_CreateString(name), &ok);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

bool api_status_alarms(struct api_call *c, cJSON *status)
{
    /* Without a policy loop nothing has looked: say nothing rather than
     * "accepting, no alarms". */
    if (!c->a->evaluator)
        return true;
    struct eval_policy_status *st = NULL;
    size_t n = eval_statuses(c->a->evaluator, &st);
    bool ok = true, accepting = true;
    cJSON *alarms = cJSON_CreateArray();
    for (size_t i = 0; alarms && i < n; i++) {
        if (st[i].state == POL_STATE_OK)
            continue;
        if (st[i].state == POL_STATE_FIRING && st[i].severity == POL_SEV_CRITICAL)
            accepting = false;
        cJSON *a = api_jadd(alarms, NULL, cJSON_CreateObject(), &ok);
        if (!a)
            break;
        api_jadd(a, "policy", cJSON_CreateString(st[i].name), &ok);
        api_jadd(a, "severity", cJSON_CreateString(severity_name(st[i].severity)), &ok);
        api_jadd(a, "state", cJSON_CreateString(pol_state_name(st[i].state)), &ok);
        api_jadd(a, "since", api_json_time(st[i].since_ms), &ok);
    }
    free(st);
    api_jadd(status, "accepting", cJSON_CreateBool(accepting), &ok);
    api_jadd(status, "alarms", alarms, &ok);
    return ok;
}

/* ---- decisions ---- */

/* The stored body with the row's id and status, which the store keeps
 * authoritative; id first, as replay prints it. NULL when the body is
 * unreadable (logged) or memory ran out. */
static cJSON *decision_json(const struct store_decision_row *row)
{
    cJSON *stored = cJSON_Parse(row->body);
    if (!cJSON_IsObject(stored)) {
        log_err("decision %lld: stored record is not JSON", (long long)row->id);
        cJSON_Delete(stored);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddNumberToObject(o, "id", (double)row->id);
    while (ok && stored->child) {
        cJSON *item = cJSON_DetachItemViaPointer(stored, stored->child);
        if (strcmp(item->string, "id") == 0) {
            cJSON_Delete(item);
        } else if (strcmp(item->string, "status") == 0) {
            cJSON_Delete(item);
            ok = cJSON_AddStringToObject(o, "status", row->status) != NULL;
        } else {
            cJSON_AddItemToObject(o, item->string, item);
        }
    }
    cJSON_Delete(stored);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void api_handle_decisions(struct api_call *c, const char *param)
{
    (void)param;
    char buf[64];
    int64_t since = 0;
    long limit = DECISIONS_DEFAULT_LIMIT;
    int got = api_query_param(c->req->query, "since", buf, sizeof buf);
    if (got < 0 || (got > 0 && util_parse_time_ms(buf, &since) != 0)) {
        api_respond_error(c, 400, "since: expected RFC 3339 time or Unix seconds");
        return;
    }
    got = api_query_param(c->req->query, "limit", buf, sizeof buf);
    if (got != 0) {
        char *end;
        errno = 0;
        limit = got > 0 ? strtol(buf, &end, 10) : -1;
        if (got < 0 || errno || *end || end == buf || limit < 1 || limit > DECISIONS_MAX_LIMIT) {
            api_respond_error(c, 400, "limit: expected a whole number from 1 to %d",
                              DECISIONS_MAX_LIMIT);
            return;
        }
    }
    struct store_decision_row *rows = NULL;
    size_t n = 0;
    char err[256];
    if (store_decisions(c->a->store, since, (size_t)limit, &rows, &n, err, sizeof err) != 0) {
        api_respond_error(c, 500, "decisions unavailable: %s", err);
        return;
    }
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = api_jadd(root, "decisions", cJSON_CreateArray(), &ok);
    for (size_t i = 0; list && i < n; i++) {
        cJSON *d = decision_json(&rows[i]);
        if (d)
            api_jadd(list, NULL, d, &ok);
    }
    store_decision_rows_free(rows, n);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* Parses the {id} of a decision path; answers 400 itself when bad. */
static bool decision_id(struct api_call *c, const char *param, int64_t *id)
{
    char buf[32];
    char *end;
    errno = 0;
    long long v = api_param_copy(param, buf, sizeof buf) ? strtoll(buf, &end, 10) : -1;
    if (v < 1 || errno || *end) {
        api_respond_error(c, 400, "id: expected a decision id (a whole number from 1)");
        return false;
    }
    *id = v;
    return true;
}

/* Reads decision id into row; answers 404/500 itself when it cannot. */
static bool load_decision(struct api_call *c, int64_t id, struct store_decision_row *row)
{
    char err[256];
    int rc = store_decision_get(c->a->store, id, row, err, sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no decision %lld", (long long)id);
        return false;
    }
    if (rc != 0) {
        api_respond_error(c, 500, "decision unavailable: %s", err);
        return false;
    }
    return true;
}

void api_handle_decision(struct api_call *c, const char *param)
{
    int64_t id;
    struct store_decision_row row;
    if (!decision_id(c, param, &id) || !load_decision(c, id, &row))
        return;
    cJSON *d = decision_json(&row);
    store_decision_row_clear(&row);
    if (!d)
        api_respond_error(c, 500, "decision %lld: stored record is unreadable", (long long)id);
    else
        api_respond_json(c, 200, d);
}

static void answer_decision(struct api_call *c, const char *param, bool approve)
{
    int64_t id;
    struct store_decision_row row;
    if (!decision_id(c, param, &id) || !load_decision(c, id, &row))
        return;
    const char *waiting = decision_status_name(DECISION_AWAITING_APPROVAL);
    struct decision d;
    decision_init(&d);
    struct placer_grants grants = {0};
    bool placing = false;
    char err[256];
    if (strcmp(row.status, waiting) != 0) {
        api_respond_error(c, 409, "decision %lld is %s, not %s", (long long)id, row.status,
                          waiting);
        goto out;
    }
    if (decision_parse(row.body, strlen(row.body), &d, err, sizeof err) != 0) {
        api_respond_error(c, 500, "decision %lld: stored record is unreadable: %s",
                          (long long)id, err);
        goto out;
    }
    if (approve)
        decision_approve(&d, c->actor);
    else
        decision_reject(&d, c->actor);
    /* An approved shed or rebalance is placed now, with the peers'
     * capacity of now. */
    if (d.status == DECISION_PLACING) {
        placing = true;
        pthread_mutex_lock(&c->a->place_lock);
        if (d.kind == POL_ACTION_REBALANCE)
            rebalancer_place(c->a, c->cfg, &d, c->now_ms, &grants);
        else
            placer_place_current(c->a, c->cfg, &d, c->now_ms, &grants);
    }
    char *body = decision_to_text(&d);
    int rc = body ? store_decision_transition(c->a->store, id, waiting,
                                              decision_status_name(d.status), body, c->actor,
                                              c->now_ms, err, sizeof err)
                  : -1;
    free(body);
    if (rc != 0) {
        /* Not recorded: what it reserved goes back at once. */
        placer_release(c->cfg, &grants);
        if (rc == STORE_CONFLICT)
            api_respond_error(c, 409, "decision %lld was answered meanwhile", (long long)id);
        else
            api_respond_error(c, 500, "decision %lld not updated: %s", (long long)id, err);
        goto out;
    }
    placer_keep(c->a, &grants, id, c->now_ms);
    log_warn("decision %lld (%s) %s by %s: now %s", (long long)id, d.policy,
             approve ? "approved" : "rejected", c->actor, decision_status_name(d.status));
    /* Answer from what was just committed; re-reading could fail and
     * report an error for a change that took effect. */
    d.id = id;
    cJSON *j = decision_to_json(&d);
    if (j)
        api_respond_json(c, 200, j);
    else
        api_respond_oom(c);
out:
    if (placing)
        pthread_mutex_unlock(&c->a->place_lock);
    placer_grants_clear(&grants);
    decision_clear(&d);
    store_decision_row_clear(&row);
}

void api_handle_decision_approve(struct api_call *c, const char *param)
{
    answer_decision(c, param, true);
}

void api_handle_decision_reject(struct api_call *c, const char *param)
{
    answer_decision(c, param, false);
}

/* ---- /metrics ---- */

/* The two decision families, each gathered whole, since a family's
 * samples must not be interleaved with another's. */
struct decision_families {
    struct strbuf entered, now_in;
};

static void count_decisions(void *ctx, const char *kind, const char *status, int64_t entered,
                            int64_t now_in)
{
    struct decision_families *f = ctx;
    /* Kinds and statuses are our own fixed words; no escaping needed. */
    strbuf_printf(&f->entered, "floe_decisions_total{kind=\"%s\",status=\"%s\"} %lld\n", kind,
             status, (long long)entered);
    strbuf_printf(&f->now_in, "floe_decisions_in_status{kind=\"%s\",status=\"%s\"} %lld\n", kind,
             status, (long long)now_in);
}

char *api_prom_records(struct api_call *c)
{
    struct strbuf t = {0};
    struct eval_policy_status *st = NULL;
    size_t n = c->a->evaluator ? eval_statuses(c->a->evaluator, &st) : 0;
    strbuf_printf(&t, "# HELP floe_policy_state 1 for the state each policy is in, 0 for the "
                 "others; severity is the policy's.\n"
                 "# TYPE floe_policy_state gauge\n");
    static const enum pol_state states[] = { POL_STATE_OK, POL_STATE_PENDING, POL_STATE_FIRING };
    /* Policy names are [A-Za-z0-9_.-] (config validation): no escaping.
     * severity (an addition to SPEC's labels) lets an alert rule tell a
     * critical policy firing from a warning one, and carries the
     * severity into the alert's own labels. */
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < ARRAY_LEN(states); s++)
            strbuf_printf(&t,
                          "floe_policy_state{policy=\"%s\",state=\"%s\",severity=\"%s\"} %d\n",
                          st[i].name, pol_state_name(states[s]), severity_name(st[i].severity),
                          st[i].state == states[s]);
    /* A policy whose inputs are unknown holds its state (SPEC 3.2): it can
     * neither fire nor clear, which a NOC wants to know before it matters. */
    strbuf_printf(&t, "# HELP floe_policy_unknown 1 while the policy's deciding expression is "
                 "unknown (an input missing, stale or in error): it holds its state.\n"
                 "# TYPE floe_policy_unknown gauge\n");
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&t, "floe_policy_unknown{policy=\"%s\"} %d\n", st[i].name, st[i].unknown);
    free(st);
    /* A counter must never decrease, so floe_decisions_total counts the
     * decisions that entered each status: an approve adds one to the new
     * status and takes none from awaiting-approval. Where they are now is
     * the gauge floe_decisions_in_status. */
    struct decision_families f = {0};
    char err[256];
    if (store_decision_counts(c->a->store, count_decisions, &f, err, sizeof err) != 0)
        log_err("/metrics: decision counts unavailable: %s", err);
    strbuf_printf(&t, "# HELP floe_decisions_total Decisions that entered each status (recorded "
                 "with it, or moved to it by an approve or reject), by action kind.\n"
                 "# TYPE floe_decisions_total counter\n");
    if (f.entered.data)
        strbuf_append(&t, f.entered.data, f.entered.len);
    strbuf_printf(&t, "# HELP floe_decisions_in_status Decisions now in each status, by action kind.\n"
                 "# TYPE floe_decisions_in_status gauge\n");
    if (f.now_in.data)
        strbuf_append(&t, f.now_in.data, f.now_in.len);
    t.failed |= f.entered.failed || f.now_in.failed;
    strbuf_free(&f.entered);
    strbuf_free(&f.now_in);
    return strbuf_take(&t);
}
