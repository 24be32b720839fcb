/*
 * api_peer — the answering side of the peer protocol (SPEC 5): GET
 * /v1/capacity, POST /v1/reservations, DELETE /v1/reservations/{id}, and
 * (an addition, for operators and tests) GET /v1/reservations; with the
 * capacity object of /v1/status and floe_spare_kw / floe_reserved_kw of
 * /metrics.
 *
 * Capacity comes from core/capacity.c, the book from store/store_resv.c;
 * this file validates what a peer sends, answers, and logs every grant,
 * refusal and release with the token's name. Callers are peers or admins
 * (api.c checks the role). A peer token sees and releases only the
 * reservations granted to it, so one site cannot cancel another's; an
 * admin sees and releases all.
 */
#include "api/api_peer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/capacity.h"
#include "core/importer.h"
#include "lib/json_util.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"
#include "store/store_import.h"
#include "store/store_resv.h"

/* TTL of an unconfirmed reservation: long enough for a peer to start its
 * backup and ask for the import, short enough that a peer that vanished
 * does not block capacity for long. */
#define RESV_TTL_DEFAULT_S 900
#define RESV_TTL_MIN_S 10
#define RESV_TTL_MAX_S 86400
/* Site and workload names: what the configuration accepts for names. */
#define RESV_NAME_MAX 64

/* ---- capacity ---- */

static cJSON *capacity_json(const struct floe_config *cfg, const struct cap_status *st)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "site", cJSON_CreateString(cfg->site.name ? cfg->site.name : ""), &ok);
    api_jadd(o, "accepting", cJSON_CreateBool(st->accepting), &ok);
    api_jadd(o, "spare_kw", api_json_number(st->spare_kw), &ok);
    api_jadd(o, "power_headroom_kw", api_json_number(st->power_headroom_kw), &ok);
    api_jadd(o, "cooling_headroom_kw", api_json_number(st->cooling_headroom_kw), &ok);
    api_jadd(o, "reserved_kw", api_json_number(st->reserved_kw), &ok);
    api_jadd(o, "ingress", cfg->site.ingress ? cJSON_CreateString(cfg->site.ingress)
                                             : cJSON_CreateNull(), &ok);
    api_jadd(o, "as_of", api_json_time(st->as_of_ms), &ok);
    /* Additions: the margin in the formula, and why the site is not
     * accepting (null while it is). */
    api_jadd(o, "margin_kw", api_json_number(st->margin_kw), &ok);
    api_jadd(o, "reason", st->accepting ? cJSON_CreateNull() : cJSON_CreateString(st->reason),
             &ok);
    return api_json_finish(o, ok);
}

void api_handle_capacity(struct api_call *c, const char *param)
{
    (void)param;
    struct cap_status st;
    char err[256];
    if (cap_evaluate(c->a, c->cfg, c->now_ms, &st, err, sizeof err) != 0) {
        api_respond_error(c, 500, "capacity unavailable: %s", err);
        return;
    }
    api_respond_json(c, 200, capacity_json(c->cfg, &st));
}

bool api_status_capacity(struct api_call *c, cJSON *status)
{
    /* A book that cannot be read shows as not accepting, with the reason:
     * the rest of the status is still worth answering. */
    struct cap_status st;
    char err[256];
    cap_evaluate(c->a, c->cfg, c->now_ms, &st, err, sizeof err);
    bool ok = true;
    api_jadd(status, "capacity", capacity_json(c->cfg, &st), &ok);
    return ok;
}

/* Shortest text that reads back as the same double. */
static void prom_value(struct strbuf *b, double v)
{
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    strbuf_puts(b, s);
}

char *api_prom_capacity(struct api_call *c)
{
    struct cap_status st;
    char err[256];
    if (cap_evaluate(c->a, c->cfg, c->now_ms, &st, err, sizeof err) != 0)
        log_err("/metrics: reserved kW unavailable: %s", err);
    struct strbuf t = {0};
    strbuf_puts(&t, "# HELP floe_spare_kw kW this site can still reserve for peers: "
                    "min(power, cooling headroom) - margin - reserved, 0 while an input is "
                    "unknown.\n"
                    "# TYPE floe_spare_kw gauge\nfloe_spare_kw ");
    prom_value(&t, st.spare_kw);
    strbuf_puts(&t, "\n# HELP floe_reserved_kw kW reserved by peers that counts now "
                    "(confirmed, or unconfirmed within its TTL).\n"
                    "# TYPE floe_reserved_kw gauge\n");
    /* No sample rather than a made-up 0 when the book cannot be read. */
    if (isfinite(st.reserved_kw)) {
        strbuf_puts(&t, "floe_reserved_kw ");
        prom_value(&t, st.reserved_kw);
        strbuf_puts(&t, "\n");
    }
    return strbuf_take(&t);
}

/* ---- reservations ---- */

static cJSON *reservation_json(const struct store_resv *r)
{
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "id", cJSON_CreateString(r->id), &ok);
    api_jadd(o, "from_site", cJSON_CreateString(r->from_site ? r->from_site : ""), &ok);
    api_jadd(o, "workload", cJSON_CreateString(r->workload ? r->workload : ""), &ok);
    api_jadd(o, "kw", api_json_number(r->kw), &ok);
    api_jadd(o, "state", cJSON_CreateString(store_resv_state_name(r->state)), &ok);
    api_jadd(o, "confirmed", cJSON_CreateBool(r->confirmed_ms != 0), &ok);
    api_jadd(o, "created_at", api_json_time(r->created_ms), &ok);
    /* A confirmed reservation lasts until it is released: no expiry. */
    api_jadd(o, "expires_at", r->confirmed_ms ? cJSON_CreateNull() : api_json_time(r->expires_ms),
             &ok);
    api_jadd(o, "granted_to", cJSON_CreateString(r->granted_by ? r->granted_by : ""), &ok);
    api_jadd(o, "ended_at", api_json_time(r->ended_ms), &ok);
    return api_json_finish(o, ok);
}

/* A peer token sees only its own reservations; an admin sees all. */
static const char *owner_of(const struct api_call *c)
{
    return c->role == ROLE_ADMIN ? NULL : c->actor;
}

void api_handle_reservations(struct api_call *c, const char *param)
{
    (void)param;
    char all[8];
    int got = api_query_param(c->req->query, "all", all, sizeof all);
    if (got < 0 || (got > 0 && strcmp(all, "0") != 0 && strcmp(all, "1") != 0)) {
        api_respond_error(c, 400, "all: expected 0 or 1");
        return;
    }
    struct store_resv *rows = NULL;
    size_t n = 0;
    char err[256];
    if (store_resv_list(c->a->store, c->now_ms, got > 0 && all[0] == '1', owner_of(c), &rows, &n,
                        err, sizeof err) != 0) {
        api_respond_error(c, 500, "reservations unavailable: %s", err);
        return;
    }
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = api_jadd(root, "reservations", cJSON_CreateArray(), &ok);
    for (size_t i = 0; list && i < n; i++)
        api_jadd(list, NULL, reservation_json(&rows[i]), &ok);
    store_resv_rows_free(rows, n);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* The configuration's rule for names (site, peer, workload): the same
 * names a peer's config holds, and nothing that could break a log line. */
static bool name_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > RESV_NAME_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

static bool body_name(struct api_call *c, const cJSON *body, const char *key, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v) {
        api_respond_error(c, 400, "%s: required", key);
        return false;
    }
    if (!cJSON_IsString(v) || !name_valid(v->valuestring)) {
        api_respond_error(c, 400, "%s: must be a string of 1 to %d letters, digits, '_', '-' or '.'",
                          key, RESV_NAME_MAX);
        return false;
    }
    *out = v->valuestring;
    return true;
}

/* The first key of the request named twice in body, NULL if none. JSON
 * leaves a repeated key's meaning open: cJSON reads the first, most
 * parsers the last, so a proxy or a log reading the other would disagree
 * with the book on what was promised. */
static const char *key_twice(const cJSON *body)
{
    static const char *const keys[] = {"from_site", "workload", "kw", "ttl_s"};
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        int seen = 0;
        for (const cJSON *m = body->child; m; m = m->next)
            if (m->string && strcmp(m->string, keys[i]) == 0 && ++seen > 1)
                return keys[i];
    }
    return NULL;
}

/* Checks the body of POST /v1/reservations into req (strings borrowed
 * from body); answers 400 itself, naming the field, when it is bad. Keys
 * it does not know are ignored: a newer peer may send more. */
static bool parse_request(struct api_call *c, const cJSON *body, struct store_resv_request *req)
{
    if (!cJSON_IsObject(body)) {
        api_respond_error(c, 400, "body: must be a JSON object");
        return false;
    }
    const char *twice = key_twice(body);
    if (twice) {
        api_respond_error(c, 400, "%s: given twice", twice);
        return false;
    }
    if (!body_name(c, body, "from_site", &req->from_site) ||
        !body_name(c, body, "workload", &req->workload))
        return false;
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(body, "kw");
    if (!kw) {
        api_respond_error(c, 400, "kw: required");
        return false;
    }
    if (!cJSON_IsNumber(kw) || !isfinite(kw->valuedouble) || kw->valuedouble <= 0) {
        api_respond_error(c, 400, "kw: must be a finite number of kW above 0");
        return false;
    }
    req->kw = kw->valuedouble;
    double ttl_s = RESV_TTL_DEFAULT_S;
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(body, "ttl_s");
    if (ttl) {
        if (!cJSON_IsNumber(ttl) || !(ttl->valuedouble >= RESV_TTL_MIN_S) ||
            !(ttl->valuedouble <= RESV_TTL_MAX_S)) {
            api_respond_error(c, 400, "ttl_s: must be a number of seconds from %d to %d",
                              RESV_TTL_MIN_S, RESV_TTL_MAX_S);
            return false;
        }
        ttl_s = ttl->valuedouble;
    }
    req->ttl_ms = llround(ttl_s * 1000.0);
    req->granted_by = c->actor;
    return true;
}

static void answer_refusal(struct api_call *c, const struct store_resv_request *req,
                           const struct cap_status *st)
{
    const char *code = st->accepting ? "no_capacity" : "not_accepting";
    char msg[300];
    if (st->accepting)
        snprintf(msg, sizeof msg, "not enough spare capacity: %s", st->reason);
    else
        snprintf(msg, sizeof msg, "not accepting work: %s", st->reason);
    log_info("reservation refused to %s (token %s): %g kW for %s: %s", req->from_site, c->actor,
             req->kw, req->workload, msg);
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "error", cJSON_CreateString(msg), &ok);
    api_jadd(o, "code", cJSON_CreateString(code), &ok);
    api_jadd(o, "spare_kw", api_json_number(st->spare_kw), &ok);
    api_respond_json(c, 409, api_json_finish(o, ok));
}

void api_handle_reservation_post(struct api_call *c, const char *param)
{
    (void)param;
    if (!c->req->body || c->req->body_len == 0) {
        api_respond_error(c, 400,
                          "body: a JSON object {\"from_site\", \"workload\", \"kw\", \"ttl_s\"} "
                          "is required");
        return;
    }
    char err[256];
    cJSON *body = json_parse_commented(c->req->body, c->req->body_len, err, sizeof err);
    if (!body) {
        api_respond_error(c, 400, "body: %s", err);
        return;
    }
    struct store_resv_request req = {0};
    if (!parse_request(c, body, &req))
        goto out;
    struct store_resv r;
    struct cap_status st;
    int rc = cap_reserve(c->a, c->cfg, &req, c->now_ms, &r, &st, err, sizeof err);
    if (rc < 0) {
        log_err("reservation for %s from %s (token %s) not granted: %s", req.workload,
                req.from_site, c->actor, err);
        api_respond_error(c, 500, "reservation not granted: %s", err);
        goto out;
    }
    if (rc == CAP_REFUSED) {
        answer_refusal(c, &req, &st);
        goto out;
    }
    char until[32];
    util_format_rfc3339(r.expires_ms, until, sizeof until);
    log_info("reservation %s granted to %s (token %s): %g kW for %s until %s unless confirmed; "
             "%g kW spare now",
             r.id, r.from_site, c->actor, r.kw, r.workload, until, st.spare_kw);
    bool ok = true;
    cJSON *o = cJSON_CreateObject();
    api_jadd(o, "id", cJSON_CreateString(r.id), &ok);
    api_jadd(o, "kw", api_json_number(r.kw), &ok);
    api_jadd(o, "expires_at", api_json_time(r.expires_ms), &ok);
    store_resv_clear(&r);
    api_respond_json(c, 201, api_json_finish(o, ok));
out:
    cJSON_Delete(body);
}

/* "rsv-" and 16 lowercase hex digits: anything else was never an id,
 * and is not echoed into messages or the log. */
static bool id_valid(const char *id)
{
    if (strlen(id) != STORE_RESV_ID_SIZE - 1 || strncmp(id, "rsv-", 4) != 0)
        return false;
    for (const char *p = id + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Drops the imports still running under reservation id (waiting-backup,
 * restoring, starting): a reservation is never released while its import
 * runs on (the workload would start here with nothing holding its kW).
 * A ready import stays: it is the migration's result. Returns -1 (err)
 * when the imports cannot be read or one cannot be dropped. */
static int drop_running_imports(struct api_call *c, const char *id, char *err, size_t errlen)
{
    struct store_import *rows = NULL;
    size_t n = 0;
    if (store_import_list(c->a->store, true, owner_of(c), 0, &rows, &n, err, errlen) != 0)
        return -1;
    int rc = 0;
    bool dropped = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strcmp(rows[i].reservation, id) != 0 || !store_import_phase_active(rows[i].phase))
            continue;
        struct store_import r;
        int d = store_import_drop(c->a->store, rows[i].id, owner_of(c), c->actor, c->now_ms, &r,
                                  err, errlen);
        if (d < 0) {
            rc = -1;
            break;
        }
        if (d == 0) {
            dropped = true;
            log_warn("import %lld (%s from %s) dropped: its reservation %s is released by %s "
                     "while it was %s",
                     (long long)r.id, r.workload, r.from_site, id, c->actor,
                     store_import_phase_name(rows[i].phase));
        }
        if (d == 0 || d == STORE_CONFLICT)
            store_import_clear(&r);
    }
    store_import_rows_free(rows, n);
    if (dropped)
        importer_wake(c->a->importer);
    return rc;
}

void api_handle_reservation_delete(struct api_call *c, const char *param)
{
    char id[STORE_RESV_ID_SIZE];
    if (!api_param_copy(param, id, sizeof id) || !id_valid(id)) {
        api_respond_error(c, 404, "no such reservation (ids are rsv- and 16 hex digits)");
        return;
    }
    struct store_resv r;
    char err[256];
    /* Before the release, and once more after it: an import created in
     * between confirmed the reservation before the release, and none can
     * be created after it. */
    if (drop_running_imports(c, id, err, sizeof err) != 0) {
        log_err("reservation %s: its running imports not dropped for %s: %s", id, c->actor, err);
        api_respond_error(c, 500, "reservation not released: its import could not be dropped: %s",
                          err);
        return;
    }
    int rc = store_resv_release(c->a->store, id, owner_of(c), c->actor, c->now_ms, &r, err,
                                sizeof err);
    if (rc == STORE_NOT_FOUND) {
        api_respond_error(c, 404, "no reservation %s", id);
        return;
    }
    char derr[256];
    if (rc >= 0 && drop_running_imports(c, id, derr, sizeof derr) != 0)
        log_err("reservation %s released by %s, but an import under it not dropped: %s", id,
                c->actor, derr);
    if (rc < 0) {
        log_err("reservation %s: release by %s failed: %s", id, c->actor, err);
        api_respond_error(c, 500, "reservation not released: %s", err);
        return;
    }
    if (rc == 0)
        log_info("reservation %s released by %s: %g kW for %s from %s are free again", r.id,
                 c->actor, r.kw, r.workload, r.from_site);
    else
        log_info("reservation %s: release by %s found it %s already", r.id, c->actor,
                 store_resv_state_name(r.state));
    /* Releasing what has ended is answered like a release: the caller's
     * aim, the kW no longer held, is met, and a retried DELETE whose first
     * answer was lost must not look like a failure. */
    cJSON *o = reservation_json(&r);
    store_resv_clear(&r);
    api_respond_json(c, 200, o);
}
