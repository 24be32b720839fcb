/*
 * decision — building, classifying and (de)serialising decision records;
 * the rules and the JSON shape are in decision.h.
 */
#include "policies/decision.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

static const char *const status_names[] = {
    [DECISION_INPUTS_UNKNOWN] = "inputs-unknown",
    [DECISION_NO_NEED] = "no-need",
    [DECISION_OBSERVED] = "observed",
    [DECISION_AWAITING_APPROVAL] = "awaiting-approval",
    [DECISION_NOTIFIED] = "notified",
    [DECISION_NO_PLACEMENT] = "no-placement",
    [DECISION_PLACING] = "placing",
    [DECISION_PLACED] = "placed",
    [DECISION_PARTIAL] = "partial",
    [DECISION_REJECTED] = "rejected",
};

static const char *const kind_names[] = {
    [POL_ACTION_NOTIFY] = "notify",
    [POL_ACTION_SHED] = "shed",
    [POL_ACTION_REBALANCE] = "rebalance",
};

/* Index of name in a table of names (NULL holes allowed), or -1. */
static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *decision_status_name(enum decision_status s)
{
    return (size_t)s < ARRAY_LEN(status_names) && status_names[s] ? status_names[s] : "?";
}

int decision_status_parse(const char *name, enum decision_status *out)
{
    int i = name_index(status_names, ARRAY_LEN(status_names), name);
    if (i < 0)
        return -1;
    *out = (enum decision_status)i;
    return 0;
}

const char *decision_kind_name(enum pol_action_type k)
{
    return (size_t)k < ARRAY_LEN(kind_names) && kind_names[k] ? kind_names[k] : "?";
}

int decision_kind_parse(const char *name, enum pol_action_type *out)
{
    int i = name_index(kind_names, ARRAY_LEN(kind_names), name);
    if (i < 0)
        return -1;
    *out = (enum pol_action_type)i;
    return 0;
}

/* ---- building ------------------------------------------------------------ */

void decision_init(struct decision *d)
{
    memset(d, 0, sizeof *d);
    d->need_kw = NAN;
    d->placed_kw = NAN;
    d->inflight_kw = NAN;
    d->rebalance.started_in_window = -1;
    d->rebalance.site_spare_kw = NAN;
}

void decision_clear_placement(struct decision *d)
{
    for (size_t i = 0; i < d->nworkloads; i++) {
        free(d->workloads[i].name);
        free(d->workloads[i].namespace_);
        free(d->workloads[i].to);
        free(d->workloads[i].reservation);
        free(d->workloads[i].reason);
        free(d->workloads[i].home_site);
    }
    free(d->workloads);
    d->workloads = NULL;
    d->nworkloads = d->cap_workloads = 0;
    for (size_t i = 0; i < d->npeers; i++) {
        free(d->peers[i].name);
        free(d->peers[i].reason);
    }
    free(d->peers);
    d->peers = NULL;
    d->npeers = d->cap_peers = 0;
    d->placed_kw = NAN;
}

void decision_clear(struct decision *d)
{
    if (!d)
        return;
    free(d->policy);
    for (size_t i = 0; i < d->ninputs; i++)
        free(d->inputs[i].name);
    free(d->inputs);
    decision_clear_placement(d);
    for (size_t i = 0; i < d->nreasons; i++)
        free(d->reasons[i]);
    free(d->reasons);
    decision_init(d);
}

void decision_set_policy(struct decision *d, const char *policy)
{
    free(d->policy);
    d->policy = util_strdup(policy);
}

void decision_add_input(struct decision *d, const char *name, double value, bool good)
{
    vec_reserve_or_abort(d->inputs, d->cap_inputs, d->ninputs + 1);
    d->inputs[d->ninputs++] = (struct decision_input){
        .name = util_strdup(name), .value = good ? value : NAN, .good = good};
}

static void add_reason_text(struct decision *d, char *text)
{
    vec_reserve_or_abort(d->reasons, d->cap_reasons, d->nreasons + 1);
    d->reasons[d->nreasons++] = text;
}

void decision_add_reason(struct decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text;
    int rc = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (rc < 0)
        abort();
    add_reason_text(d, text);
}

void decision_add_workload(struct decision *d, const struct decision_workload *w)
{
    vec_reserve_or_abort(d->workloads, d->cap_workloads, d->nworkloads + 1);
    d->workloads[d->nworkloads++] = (struct decision_workload){
        .name = util_strdup(w->name),
        .namespace_ = util_strdup(w->namespace_),
        .power_kw = w->power_kw,
        .priority = w->priority,
        .data_gb = w->data_gb,
        .downtime_s = w->downtime_s,
        .chosen = w->chosen,
        .to = util_strdup(w->to),
        .reservation = util_strdup(w->reservation),
        .reason = util_strdup(w->reason),
        .home_site = util_strdup(w->home_site),
    };
}

void decision_add_peer(struct decision *d, const struct decision_peer *p)
{
    vec_reserve_or_abort(d->peers, d->cap_peers, d->npeers + 1);
    d->peers[d->npeers++] = (struct decision_peer){
        .name = util_strdup(p->name),
        .accepting = p->accepting,
        .spare_kw = p->spare_kw,
        .reserved_kw = p->reserved_kw,
        .reason = util_strdup(p->reason),
    };
}

/* ---- status -------------------------------------------------------------- */

/* Numbers in reasons: short, but never rounding a small need to "0". */
static void format_kw(double kw, char *buf, size_t n)
{
    snprintf(buf, n, "%.6g", kw);
}

/* What mode auto does with a decision that needs something done. */
static void act(struct decision *d)
{
    switch (d->kind) {
    case POL_ACTION_NOTIFY:
        d->status = DECISION_NOTIFIED;
        decision_add_reason(d, "notify: the decision is the notification");
        break;
    case POL_ACTION_SHED:
    case POL_ACTION_REBALANCE:
        d->status = DECISION_PLACING; /* the caller's placement resolves it */
        break;
    }
}

void decision_classify(struct decision *d, const struct decision_facts *f)
{
    if (d->kind == POL_ACTION_SHED) {
        d->need_kw = isnan(f->kw) ? NAN : f->kw - f->inflight_kw;
        d->inflight_kw = f->inflight_kw;
    } else {
        d->need_kw = NAN;
        d->inflight_kw = NAN;
    }

    if (f->unknown || (d->kind == POL_ACTION_SHED && isnan(f->kw))) {
        d->status = DECISION_INPUTS_UNKNOWN;
        decision_add_reason(d,
                            "inputs unknown: `%s` could not be evaluated (a metric it reads is "
                            "missing, stale or in error); nothing is done",
                            f->unknown ? f->unknown : "action.kw");
        return;
    }
    if (d->kind == POL_ACTION_SHED && d->need_kw <= 0) {
        char kw[32], inflight[32], need[32];
        format_kw(f->kw, kw, sizeof kw);
        format_kw(f->inflight_kw, inflight, sizeof inflight);
        format_kw(d->need_kw, need, sizeof need);
        d->status = DECISION_NO_NEED;
        if (f->kw > 0)
            decision_add_reason(d, "need met by in-flight work: action.kw %s kW, in flight %s kW",
                                kw, inflight);
        else
            decision_add_reason(d, "no need: action.kw is %s kW (<= 0), nothing to shed", kw);
        return;
    }
    switch (f->mode) {
    case POL_MODE_OBSERVE:
        d->status = DECISION_OBSERVED;
        decision_add_reason(d, "mode observe: recorded only");
        return;
    case POL_MODE_APPROVE:
        d->status = DECISION_AWAITING_APPROVAL;
        decision_add_reason(d, "mode approve: waiting for approval");
        return;
    case POL_MODE_AUTO:
        break;
    }
    act(d);
}

void decision_not_placed(struct decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text;
    int rc = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (rc < 0)
        abort();
    d->status = DECISION_NO_PLACEMENT;
    add_reason_text(d, text);
}

void decision_approve(struct decision *d, const char *actor)
{
    decision_add_reason(d, "approved by %s", actor);
    act(d);
}

void decision_reject(struct decision *d, const char *actor)
{
    d->status = DECISION_REJECTED;
    decision_add_reason(d, "rejected by %s", actor);
}

/* ---- JSON out -------------------------------------------------------------- */

/* 12 significant digits: every reading a meter or a person produces
 * survives, and the float noise of the expressions' arithmetic does not
 * (400 * 1.1 - 470 reads -30, not -29.99999999999994). */
static cJSON *json_number(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char buf[32];
    snprintf(buf, sizeof buf, "%.12g", v);
    return cJSON_CreateNumber(strtod(buf, NULL));
}

static cJSON *json_string_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* cJSON's builders return NULL only when out of memory; like the builders
 * above, that aborts rather than serving a record with holes. */
static cJSON *must(cJSON *item)
{
    if (!item)
        abort();
    return item;
}

static void put(cJSON *obj, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(obj, key, must(item)))
        abort();
}

static void push(cJSON *arr, cJSON *item)
{
    if (!cJSON_AddItemToArray(arr, must(item)))
        abort();
}

static cJSON *json_time_or_null(int64_t ms)
{
    if (ms <= 0)
        return cJSON_CreateNull();
    char ts[32];
    util_format_rfc3339(ms, ts, sizeof ts);
    return cJSON_CreateString(ts);
}

static cJSON *rebalance_to_json(const struct decision_rebalance *r)
{
    cJSON *o = must(cJSON_CreateObject());
    put(o, "min_gain_kw", json_number(r->min_gain_kw));
    put(o, "max_migrations", cJSON_CreateNumber(r->max_migrations));
    put(o, "min_residency_s", json_number((double)r->min_residency_ms / 1000.0));
    put(o, "window_start", json_time_or_null(r->window_start_ms));
    put(o, "window_end", json_time_or_null(r->window_end_ms));
    put(o, "started_in_window",
        r->started_in_window >= 0 ? cJSON_CreateNumber(r->started_in_window) : cJSON_CreateNull());
    put(o, "site_spare_kw", json_number(r->site_spare_kw));
    return o;
}

cJSON *decision_to_json(const struct decision *d)
{
    char ts[32];
    util_format_rfc3339(d->ts_ms, ts, sizeof ts);
    cJSON *o = must(cJSON_CreateObject());
    put(o, "id", cJSON_CreateNumber((double)d->id));
    put(o, "ts", cJSON_CreateString(ts));
    put(o, "policy", json_string_or_null(d->policy));
    put(o, "kind", cJSON_CreateString(decision_kind_name(d->kind)));
    put(o, "status", cJSON_CreateString(decision_status_name(d->status)));
    put(o, "need_kw", json_number(d->need_kw));
    put(o, "placed_kw", json_number(d->placed_kw));
    put(o, "inflight_kw", json_number(d->inflight_kw));
    put(o, "deadline_s", d->deadline_s > 0 ? json_number(d->deadline_s) : cJSON_CreateNull());
    bool rebalance = d->kind == POL_ACTION_REBALANCE;
    if (rebalance)
        put(o, "rebalance", rebalance_to_json(&d->rebalance));

    cJSON *inputs = must(cJSON_CreateArray());
    put(o, "inputs", inputs);
    for (size_t i = 0; i < d->ninputs; i++) {
        const struct decision_input *in = &d->inputs[i];
        cJSON *e = must(cJSON_CreateObject());
        push(inputs, e);
        put(e, "name", cJSON_CreateString(in->name));
        put(e, "value", in->good ? json_number(in->value) : cJSON_CreateNull());
        put(e, "quality", cJSON_CreateString(in->good ? "good" : "unknown"));
    }

    cJSON *workloads = must(cJSON_CreateArray());
    put(o, "workloads", workloads);
    for (size_t i = 0; i < d->nworkloads; i++) {
        const struct decision_workload *w = &d->workloads[i];
        cJSON *e = must(cJSON_CreateObject());
        push(workloads, e);
        put(e, "name", cJSON_CreateString(w->name));
        put(e, "namespace", cJSON_CreateString(w->namespace_ ? w->namespace_ : w->name));
        put(e, "power_kw", json_number(w->power_kw));
        put(e, "priority", cJSON_CreateNumber(w->priority));
        put(e, "data_gb", json_number(w->data_gb));
        put(e, "downtime_s", json_number(w->downtime_s));
        put(e, "chosen", cJSON_CreateBool(w->chosen));
        put(e, "to", json_string_or_null(w->to));
        put(e, "reservation", json_string_or_null(w->reservation));
        put(e, "reason", json_string_or_null(w->reason));
        if (rebalance)
            put(e, "home_site", json_string_or_null(w->home_site));
    }

    cJSON *peers = must(cJSON_CreateArray());
    put(o, "peers", peers);
    for (size_t i = 0; i < d->npeers; i++) {
        const struct decision_peer *p = &d->peers[i];
        cJSON *e = must(cJSON_CreateObject());
        push(peers, e);
        put(e, "name", cJSON_CreateString(p->name));
        put(e, "accepting", cJSON_CreateBool(p->accepting));
        put(e, "spare_kw", json_number(p->spare_kw));
        put(e, "reserved_kw", json_number(p->reserved_kw));
        put(e, "reason", json_string_or_null(p->reason));
    }

    cJSON *reasons = must(cJSON_CreateArray());
    put(o, "reasons", reasons);
    for (size_t i = 0; i < d->nreasons; i++)
        push(reasons, cJSON_CreateString(d->reasons[i]));
    return o;
}

char *decision_to_text(const struct decision *d)
{
    cJSON *o = decision_to_json(d);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort();
    return text;
}

/* ---- JSON in --------------------------------------------------------------- */

/* Reading fields: each helper fills err with "path: message" and returns
 * -1 when the field is missing or of the wrong type. */

static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int need_string(const cJSON *obj, const char *path, const char *key, bool nullable,
                       const char **out, char *err, size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (nullable && (!v || cJSON_IsNull(v))) {
        *out = NULL;
        return 0;
    }
    if (!cJSON_IsString(v))
        return errf(err, errlen, "%s%s: %s", path, key, v ? "must be a string" : "required");
    *out = v->valuestring;
    return 0;
}

/* A number, or null for "not applicable / unknown" (NAN). */
static int need_number(const cJSON *obj, const char *path, const char *key, double *out, char *err,
                       size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (cJSON_IsNull(v)) {
        *out = NAN;
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return errf(err, errlen, "%s%s: %s", path, key,
                    v ? "must be a number or null" : "required");
    *out = v->valuedouble;
    return 0;
}

/* Fields later versions added: absent in older records, read as not known. */
static int opt_number(const cJSON *obj, const char *path, const char *key, double *out, char *err,
                      size_t errlen)
{
    if (!field(obj, key)) {
        *out = NAN;
        return 0;
    }
    return need_number(obj, path, key, out, err, errlen);
}

static int need_bool(const cJSON *obj, const char *path, const char *key, bool *out, char *err,
                     size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (!cJSON_IsBool(v))
        return errf(err, errlen, "%s%s: %s", path, key, v ? "must be true or false" : "required");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int need_array(const cJSON *obj, const char *key, const cJSON **out, char *err,
                      size_t errlen)
{
    const cJSON *v = field(obj, key);
    if (!cJSON_IsArray(v))
        return errf(err, errlen, "%s: %s", key, v ? "must be an array" : "required");
    *out = v;
    return 0;
}

static int need_object(const cJSON *item, const char *path, char *err, size_t errlen)
{
    if (!cJSON_IsObject(item))
        return errf(err, errlen, "%s: must be an object", path);
    return 0;
}

static int read_inputs(const cJSON *arr, struct decision *d, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[48];
        snprintf(path, sizeof path, "inputs[%zu]", i);
        const char *name, *quality;
        double value;
        if (need_object(e, path, err, errlen) < 0)
            return -1;
        strcat(path, ".");
        if (need_string(e, path, "name", false, &name, err, errlen) < 0 ||
            need_number(e, path, "value", &value, err, errlen) < 0 ||
            need_string(e, path, "quality", false, &quality, err, errlen) < 0)
            return -1;
        bool good = strcmp(quality, "good") == 0;
        if (!good && strcmp(quality, "unknown") != 0)
            return errf(err, errlen, "%squality: must be \"good\" or \"unknown\"", path);
        if (good && isnan(value))
            return errf(err, errlen, "%svalue: a good input needs a number", path);
        decision_add_input(d, name, value, good);
    }
    return 0;
}

static int read_workloads(const cJSON *arr, struct decision *d, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[48];
        snprintf(path, sizeof path, "workloads[%zu]", i);
        struct decision_workload w = {0};
        const char *name, *ns, *to, *reason, *reservation, *home = NULL;
        double priority;
        if (need_object(e, path, err, errlen) < 0)
            return -1;
        strcat(path, ".");
        if (need_string(e, path, "name", false, &name, err, errlen) < 0 ||
            need_string(e, path, "namespace", true, &ns, err, errlen) < 0 ||
            need_number(e, path, "power_kw", &w.power_kw, err, errlen) < 0 ||
            opt_number(e, path, "priority", &priority, err, errlen) < 0 ||
            opt_number(e, path, "data_gb", &w.data_gb, err, errlen) < 0 ||
            opt_number(e, path, "downtime_s", &w.downtime_s, err, errlen) < 0 ||
            need_bool(e, path, "chosen", &w.chosen, err, errlen) < 0 ||
            need_string(e, path, "to", true, &to, err, errlen) < 0 ||
            need_string(e, path, "reservation", true, &reservation, err, errlen) < 0 ||
            need_string(e, path, "reason", true, &reason, err, errlen) < 0 ||
            need_string(e, path, "home_site", true, &home, err, errlen) < 0)
            return -1;
        if (!isnan(priority) && (priority < -1e9 || priority > 1e9 || priority != floor(priority)))
            return errf(err, errlen, "%spriority: must be an integer", path);
        w.priority = isnan(priority) ? 0 : (int)priority;
        w.name = (char *)name;
        w.namespace_ = ns && strcmp(ns, name) != 0 ? (char *)ns : NULL;
        w.to = (char *)to;
        w.reservation = (char *)reservation;
        w.reason = (char *)reason;
        w.home_site = (char *)home;
        decision_add_workload(d, &w);
    }
    return 0;
}

static int read_peers(const cJSON *arr, struct decision *d, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        char path[48];
        snprintf(path, sizeof path, "peers[%zu]", i);
        struct decision_peer p = {0};
        const char *name, *reason;
        if (need_object(e, path, err, errlen) < 0)
            return -1;
        strcat(path, ".");
        if (need_string(e, path, "name", false, &name, err, errlen) < 0 ||
            need_bool(e, path, "accepting", &p.accepting, err, errlen) < 0 ||
            need_number(e, path, "spare_kw", &p.spare_kw, err, errlen) < 0 ||
            opt_number(e, path, "reserved_kw", &p.reserved_kw, err, errlen) < 0 ||
            need_string(e, path, "reason", true, &reason, err, errlen) < 0)
            return -1;
        if (isnan(p.reserved_kw))
            p.reserved_kw = 0;
        p.name = (char *)name;
        p.reason = (char *)reason;
        decision_add_peer(d, &p);
    }
    return 0;
}

/* A time or null (0); absent reads as null. */
static int opt_time(const cJSON *obj, const char *path, const char *key, int64_t *out, char *err,
                    size_t errlen)
{
    const char *text = NULL;
    *out = 0;
    if (need_string(obj, path, key, true, &text, err, errlen) < 0)
        return -1;
    if (text && util_parse_time_ms(text, out) < 0)
        return errf(err, errlen, "%s%s: not an RFC 3339 time: '%s'", path, key, text);
    return 0;
}

static int read_rebalance(const cJSON *obj, struct decision *d, char *err, size_t errlen)
{
    const cJSON *r = field(obj, "rebalance");
    if (!r || cJSON_IsNull(r))
        return 0;
    if (need_object(r, "rebalance", err, errlen) < 0)
        return -1;
    const char *path = "rebalance.";
    struct decision_rebalance *rb = &d->rebalance;
    double max, residency_s, started;
    if (opt_number(r, path, "min_gain_kw", &rb->min_gain_kw, err, errlen) < 0 ||
        opt_number(r, path, "max_migrations", &max, err, errlen) < 0 ||
        opt_number(r, path, "min_residency_s", &residency_s, err, errlen) < 0 ||
        opt_time(r, path, "window_start", &rb->window_start_ms, err, errlen) < 0 ||
        opt_time(r, path, "window_end", &rb->window_end_ms, err, errlen) < 0 ||
        opt_number(r, path, "started_in_window", &started, err, errlen) < 0 ||
        opt_number(r, path, "site_spare_kw", &rb->site_spare_kw, err, errlen) < 0)
        return -1;
    if (!isnan(max) && (max < 0 || max > 1e6 || max != floor(max)))
        return errf(err, errlen, "rebalance.max_migrations: must be a whole number");
    if (!isnan(started) && (started < 0 || started > 1e9 || started != floor(started)))
        return errf(err, errlen, "rebalance.started_in_window: must be a whole number");
    if (!isnan(residency_s) && (residency_s < 0 || residency_s > 1e12))
        return errf(err, errlen, "rebalance.min_residency_s: out of range");
    rb->max_migrations = isnan(max) ? 0 : (int)max;
    rb->started_in_window = isnan(started) ? -1 : (int)started;
    rb->min_residency_ms = isnan(residency_s) ? 0 : (int64_t)llround(residency_s * 1000.0);
    return 0;
}

static int read_reasons(const cJSON *arr, struct decision *d, char *err, size_t errlen)
{
    size_t i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return errf(err, errlen, "reasons[%zu]: must be a string", i);
        add_reason_text(d, util_strdup(e->valuestring));
    }
    return 0;
}

int decision_from_json(const cJSON *obj, struct decision *out, char *err, size_t errlen)
{
    decision_init(out);
    if (!cJSON_IsObject(obj))
        return errf(err, errlen, "decision: must be an object");

    const cJSON *id = field(obj, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 9007199254740992.0 ||
        id->valuedouble != floor(id->valuedouble))
        return errf(err, errlen, "id: %s", id ? "must be a non-negative integer" : "required");
    out->id = (int64_t)id->valuedouble;

    const char *ts = NULL, *policy = NULL, *kind = NULL, *status = NULL;
    const cJSON *inputs = NULL, *workloads = NULL, *peers = NULL, *reasons = NULL;
    if (need_string(obj, "", "ts", false, &ts, err, errlen) < 0)
        goto fail;
    if (util_parse_time_ms(ts, &out->ts_ms) < 0) {
        errf(err, errlen, "ts: not an RFC 3339 time: '%s'", ts);
        goto fail;
    }
    if (need_string(obj, "", "policy", false, &policy, err, errlen) < 0 ||
        need_string(obj, "", "kind", false, &kind, err, errlen) < 0 ||
        need_string(obj, "", "status", false, &status, err, errlen) < 0)
        goto fail;
    decision_set_policy(out, policy);
    if (decision_kind_parse(kind, &out->kind) < 0) {
        errf(err, errlen, "kind: unknown kind '%s'", kind);
        goto fail;
    }
    if (decision_status_parse(status, &out->status) < 0) {
        errf(err, errlen, "status: unknown status '%s'", status);
        goto fail;
    }
    if (need_number(obj, "", "need_kw", &out->need_kw, err, errlen) < 0 ||
        opt_number(obj, "", "placed_kw", &out->placed_kw, err, errlen) < 0 ||
        opt_number(obj, "", "inflight_kw", &out->inflight_kw, err, errlen) < 0 ||
        opt_number(obj, "", "deadline_s", &out->deadline_s, err, errlen) < 0 ||
        need_array(obj, "inputs", &inputs, err, errlen) < 0 ||
        need_array(obj, "workloads", &workloads, err, errlen) < 0 ||
        need_array(obj, "peers", &peers, err, errlen) < 0 ||
        need_array(obj, "reasons", &reasons, err, errlen) < 0)
        goto fail;
    if (isnan(out->deadline_s) || out->deadline_s < 0)
        out->deadline_s = 0; /* null or absent: none */
    if (read_inputs(inputs, out, err, errlen) < 0 ||
        read_workloads(workloads, out, err, errlen) < 0 ||
        read_peers(peers, out, err, errlen) < 0 || read_reasons(reasons, out, err, errlen) < 0 ||
        read_rebalance(obj, out, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    decision_clear(out);
    return -1;
}

int decision_parse(const char *text, size_t len, struct decision *out, char *err, size_t errlen)
{
    decision_init(out);
    cJSON *obj = cJSON_ParseWithLength(text, len);
    if (!obj)
        return errf(err, errlen, "decision: not valid JSON");
    int rc = decision_from_json(obj, out, err, errlen);
    cJSON_Delete(obj);
    return rc;
}
