/*
 * api — see api.h. Routing, authentication and the answers of the read
 * endpoints: /healthz, /v1/status, /v1/telemetry, /v1/telemetry/{metric}
 * and /metrics. The transport (api_http.c) hands a request in and sends
 * back whatever api_handle() puts in the response.
 *
 * One route table says, per method and path, which role may call it; the
 * checks run in the order 413 (body too large), 404 (no such path), 405
 * (path exists, method does not), 401/403 (caller), then the handler.
 * Each request takes one reference to the agent's config snapshot and
 * reads only that one until it has answered, so a reload never swaps
 * tokens out from under a check, and never waits for a slow request.
 *
 * History answers are capped at API_HISTORY_MAX_POINTS points: when the
 * asked step (or raw samples, step 0) would give more, the step is raised
 * to the smallest whole number of seconds that fits, and the answer's
 * "step_s" says which step was used. A client gets a coarser curve rather
 * than an error or a silently truncated one.
 */
#include "api/api.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_cache.h"
#include "api/api_dashboard.h"
#include "api/api_imports.h"
#include "api/api_internal.h"
#include "api/api_migrations.h"
#include "api/api_peer.h"
#include "api/api_prom.h"
#include "api/api_records.h"
#include "api/api_respond.h"
#include "api/api_workloads.h"
#include "core/evaluator.h"
#include "core/peer_watch.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/util.h"

#define API_HISTORY_MAX_POINTS 10000
#define API_HISTORY_DEFAULT_RANGE_MS (3600 * 1000LL)
#define API_QUERY_VALUE_MAX 128
#define API_TOKEN_MAX 4096
#define API_JSON "application/json"

typedef void (*api_handler)(struct api_call *c, const char *param);

/* A path is either exact ("/v1/status") or ends in a "{name}" segment
 * that matches one non-empty segment, passed to the handler as param.
 * need is the least role that may call it: ROLE_NONE is open to all,
 * ROLE_PEER means "peer or admin" (SPEC section 5). */
struct api_route {
    const char *method;
    const char *path;
    enum cfg_role need;
    api_handler handler;
};

static void handle_healthz(struct api_call *c, const char *param);
static void handle_status(struct api_call *c, const char *param);
static void handle_telemetry(struct api_call *c, const char *param);
static void handle_history(struct api_call *c, const char *param);
static void handle_prometheus(struct api_call *c, const char *param);
static void handle_auth(struct api_call *c, const char *param);

static const struct api_route api_routes[] = {
    {"GET", "/healthz", ROLE_NONE, handle_healthz},
    /* The dashboard holds no data: its script asks the API with a token. */
    {"GET", "/", ROLE_NONE, api_handle_dashboard},
    {"GET", "/dashboard.css", ROLE_NONE, api_handle_dashboard},
    {"GET", "/dashboard.js", ROLE_NONE, api_handle_dashboard},
    {"GET", "/v1/auth", ROLE_NONE, handle_auth},
    {"GET", "/v1/status", ROLE_READ, handle_status},
    {"GET", "/v1/telemetry", ROLE_READ, handle_telemetry},
    {"GET", "/v1/telemetry/{metric}", ROLE_READ, handle_history},
    {"GET", "/v1/policies", ROLE_READ, api_handle_policies},
    {"PUT", "/v1/policies/{name}", ROLE_OPERATOR, api_handle_policy_put},
    {"DELETE", "/v1/policies/{name}", ROLE_OPERATOR, api_handle_policy_delete},
    {"GET", "/v1/decisions", ROLE_READ, api_handle_decisions},
    {"GET", "/v1/decisions/{id}", ROLE_READ, api_handle_decision},
    {"POST", "/v1/decisions/{id}/approve", ROLE_OPERATOR, api_handle_decision_approve},
    {"POST", "/v1/decisions/{id}/reject", ROLE_OPERATOR, api_handle_decision_reject},
    {"GET", "/v1/migrations", ROLE_READ, api_handle_migrations},
    {"POST", "/v1/migrations", ROLE_OPERATOR, api_handle_migration_post},
    {"GET", "/v1/migrations/{id}", ROLE_READ, api_handle_migration},
    {"POST", "/v1/migrations/{id}/abort", ROLE_OPERATOR, api_handle_migration_abort},
    {"GET", "/v1/capacity", ROLE_PEER, api_handle_capacity},
    {"GET", "/v1/reservations", ROLE_PEER, api_handle_reservations},
    {"POST", "/v1/reservations", ROLE_PEER, api_handle_reservation_post},
    {"DELETE", "/v1/reservations/{id}", ROLE_PEER, api_handle_reservation_delete},
    {"GET", "/v1/imports", ROLE_PEER, api_handle_imports},
    {"POST", "/v1/imports", ROLE_PEER, api_handle_import_post},
    {"GET", "/v1/imports/{id}", ROLE_PEER, api_handle_import},
    {"DELETE", "/v1/imports/{id}", ROLE_PEER, api_handle_import_delete},
    {"GET", "/v1/workloads", ROLE_READ, api_handle_workloads},
    {"POST", "/v1/workloads/refresh", ROLE_OPERATOR, api_handle_workloads_refresh},
    {"GET", "/metrics", ROLE_READ, handle_prometheus},
};

/* ---- authentication ---- */

/* The role of the bearer token in an Authorization header, ROLE_NONE if
 * the header is malformed or the token unknown. Every configured token is
 * compared (constant time each, no early exit) so the answer time does not
 * tell which entry, if any, came close. */
static enum cfg_role api_token_role(const struct cfg_http *http, const char *authorization,
                                    const char **name)
{
    const char *p = authorization;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return ROLE_NONE;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0 || n > API_TOKEN_MAX)
        return ROLE_NONE;
    char token[API_TOKEN_MAX + 1];
    memcpy(token, p, n);
    token[n] = '\0';
    enum cfg_role role = ROLE_NONE;
    for (size_t i = 0; i < http->ntokens; i++) {
        const struct cfg_token *t = &http->tokens[i];
        if (t->token && util_secret_equal(t->token, token) && role == ROLE_NONE) {
            role = t->role;
            *name = t->name;
        }
    }
    explicit_bzero(token, sizeof token);
    return role;
}

/* 0 when the caller may use a route needing `need`, else 401 or 403 with
 * *why set. A token that is sent must be valid even where anonymous_read
 * would let the request in without one: a client with a revoked or
 * mistyped token learns it at once, not when anonymous_read is turned off. */
static int api_authorize(const struct cfg_http *http, const char *authorization, enum cfg_role need,
                         const char **why, const char **actor, enum cfg_role *actor_role)
{
    *actor = "anonymous";
    *actor_role = ROLE_NONE;
    if (need == ROLE_NONE)
        return 0;
    bool anonymous_ok = need == ROLE_READ && http->anonymous_read;
    if (!authorization) {
        if (anonymous_ok)
            return 0;
        *why = "a bearer token is required (Authorization: Bearer TOKEN)";
        return 401;
    }
    enum cfg_role role = api_token_role(http, authorization, actor);
    *actor_role = role;
    if (role == ROLE_NONE) {
        *why = "the bearer token is not valid";
        return 401;
    }
    if (anonymous_ok)
        return 0;
    if (need == ROLE_PEER) {
        if (role == ROLE_PEER || role == ROLE_ADMIN)
            return 0;
        *why = "this endpoint is for peers and admins";
        return 403;
    }
    if (role == ROLE_PEER) {
        *why = "a peer token may only call the peer protocol";
        return 403;
    }
    if (role < need) {
        *why = need == ROLE_OPERATOR ? "this endpoint needs the operator role"
                                     : "this endpoint needs the admin role";
        return 403;
    }
    return 0;
}

/* ---- routing ---- */

/* Does path match the route's path? A "{name}" segment of the route
 * matches one non-empty segment of the path; *param points at it in path
 * (it runs to the next '/' or the end: handlers copy it with
 * api_param_copy). */
static bool route_matches(const struct api_route *r, const char *path, const char **param)
{
    *param = NULL;
    const char *brace = strchr(r->path, '{');
    if (!brace)
        return strcmp(path, r->path) == 0;
    size_t prefix = (size_t)(brace - r->path);
    if (strncmp(path, r->path, prefix) != 0)
        return false;
    const char *seg = path + prefix;
    const char *seg_end = strchrnul(seg, '/');
    const char *rest = strchr(brace, '}') + 1;
    if (seg_end == seg || strcmp(seg_end, rest) != 0)
        return false;
    *param = seg;
    return true;
}

void api_allowed_methods(const char *path, char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < ARRAY_LEN(api_routes); i++) {
        const char *param;
        if (!route_matches(&api_routes[i], path, &param))
            continue;
        /* HEAD is served wherever GET is (libmicrohttpd drops the body). */
        bool get = strcmp(api_routes[i].method, "GET") == 0;
        int w = snprintf(buf + used, n - used, "%s%s%s", used ? ", " : "", api_routes[i].method,
                         get ? ", HEAD" : "");
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
}

/* ---- cached answers ---- */

/* Renders an endpoint's body at the call's time: a new render (one
 * reference) or NULL when out of memory, with the times between which it
 * holds in *valid. */
typedef struct api_render *(*api_renderer)(struct api_call *c, int64_t mono_ms,
                                           struct api_valid *valid);

/* The next whole second of a clock after ms: ages and uptimes shown in
 * whole seconds, and capacity (see render_status), hold until then at most. */
static int64_t next_second_ms(int64_t ms)
{
    return (ms >= 0 ? ms / 1000 : (ms - 999) / 1000) * 1000 + 1000;
}

/* A copy of the evaluator's policy states and of the peer watcher's view,
 * as the cache compares them (api_cache.h). */
static void inputs_take_policies_peers(struct api_call *c, struct api_inputs *in)
{
    struct eval_policy_status *st = NULL;
    size_t n = c->a->evaluator ? eval_statuses(c->a->evaluator, &st) : 0;
    in->policies = st;
    in->policies_len = n * sizeof *st;
    struct peer_status *ps = NULL;
    size_t np = peer_watch_snapshot(c->a->peers, &ps);
    in->peers = ps;
    in->peers_len = np * sizeof *ps;
}

/* Answers with the cached body of slot when it still holds, else with a
 * new one from render (kept for the next callers). Without a cache (unit
 * tests that do not make one) every call renders. The inputs are read
 * before the render, so a change during it makes the next call render
 * again rather than keep a body older than its key. */
static void respond_cached(struct api_call *c, struct api_slot *slot, bool policies_peers,
                           api_renderer render, const char *content_type)
{
    int64_t mono_ms = util_mono_ms();
    /* Telemetry reads nothing from the store: keyed on it, every commit
     * would make it render again. */
    struct api_inputs in = {.cfg_gen = c->cfg_gen,
                            .metrics_gen = metrics_generation(c->a->metrics),
                            .store_gen = c->a->store && policies_peers
                                             ? store_generation(c->a->store)
                                             : 0};
    if (policies_peers)
        inputs_take_policies_peers(c, &in);
    struct api_render *r = slot ? api_slot_get(slot, &in, c->now_ms, mono_ms) : NULL;
    if (!r && slot) {
        if (pthread_mutex_trylock(&slot->render_lock) != 0) {
            /* Another thread is making the next body, and may wait for
             * the store behind a long history query: rather than hold this
             * event-loop thread (and every connection on it) until then,
             * answer with the last body. Only a first render is waited for. */
            r = api_slot_last(slot);
            if (!r)
                pthread_mutex_lock(&slot->render_lock);
        }
        if (!r) {
            /* One render at a time: the callers that waited take its result. */
            r = api_slot_get(slot, &in, c->now_ms, mono_ms);
            if (!r) {
                struct api_valid valid;
                r = render(c, mono_ms, &valid);
                if (r)
                    api_slot_put(slot, &in, &valid, r);
            }
            pthread_mutex_unlock(&slot->render_lock);
        }
    } else if (!r) {
        struct api_valid valid;
        r = render(c, mono_ms, &valid);
    }
    api_inputs_clear(&in);
    if (!r) {
        api_respond_oom(c);
        return;
    }
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->content_type = content_type;
    if (r->nholes == 0) {
        c->resp->shared = r; /* the response's reference */
        c->resp->body = r->text;
        c->resp->body_len = r->len;
        return;
    }
    c->resp->body = api_render_fill(r, c->now_ms, &c->resp->body_len);
    api_render_unref(r);
    if (!c->resp->body)
        api_respond_oom(c);
}

/* A render of a cJSON document (consumed), NULL when out of memory. */
static struct api_render *render_json(cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text ? api_render_new(text, strlen(text), NULL, 0) : NULL;
}

/* ---- handlers ---- */

static void handle_healthz(struct api_call *c, const char *param)
{
    (void)param;
    cJSON *root = cJSON_CreateObject();
    bool ok = true;
    api_jadd(root, "ok", cJSON_CreateTrue(), &ok);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* GET /v1/auth (an addition, open to all): whether the caller may read
 * here, and what its token is. The dashboard asks this before it reads,
 * so it can ask for a token, or say why one was refused, without a
 * request that fails (a browser logs each 401 as an error). `read` is what
 * api_authorize would say of a read endpoint. An unknown token learns no
 * more than a 401 would tell it. */
static void handle_auth(struct api_call *c, const char *param)
{
    (void)param;
    const struct cfg_http *http = &c->cfg->http;
    const char *authorization = c->req->authorization;
    const char *name = NULL, *why = "", *actor;
    enum cfg_role role = authorization ? api_token_role(http, authorization, &name) : ROLE_NONE;
    enum cfg_role actor_role;
    bool may_read = api_authorize(http, authorization, ROLE_READ, &why, &actor, &actor_role) == 0;
    const char *token = !authorization ? "none" : role == ROLE_NONE ? "invalid" : "valid";
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "anonymous_read", cJSON_CreateBool(http->anonymous_read), &ok);
    api_jadd(root, "token", cJSON_CreateString(token), &ok);
    api_jadd(root, "name", name ? cJSON_CreateString(name) : cJSON_CreateNull(), &ok);
    api_jadd(root, "role",
             role != ROLE_NONE ? cJSON_CreateString(cfg_role_name(role)) : cJSON_CreateNull(), &ok);
    api_jadd(root, "read", cJSON_CreateBool(may_read), &ok);
    api_jadd(root, "error", may_read ? cJSON_CreateNull() : cJSON_CreateString(why), &ok);
    api_respond_json(c, 200, api_json_finish(root, ok));
}

/* collectors: counts as SPEC 4 has them, and (an addition) each failing
 * device with the error of its last poll and since when it fails, so a
 * person learns why without reading the log. */
static cJSON *status_collectors(struct api_call *c)
{
    struct collector_snapshot *cs = NULL;
    size_t ncs = metrics_collectors(c->a->metrics, &cs);
    int ok_count = 0, failing = 0, pending = 0;
    bool ok = true;
    cJSON *col = cJSON_CreateObject();
    cJSON *down = cJSON_CreateArray();
    for (size_t i = 0; i < ncs; i++) {
        if (!cs[i].polled) {
            pending++;
        } else if (cs[i].up) {
            ok_count++;
        } else {
            failing++;
            cJSON *d = api_jadd(down, NULL, cJSON_CreateObject(), &ok);
            api_jadd(d, "device", cJSON_CreateString(cs[i].device), &ok);
            api_jadd(d, "protocol", cJSON_CreateString(cs[i].protocol), &ok);
            api_jadd(d, "since", api_json_time(cs[i].up_since_ms), &ok);
            api_jadd(d, "error", cJSON_CreateString(cs[i].last_error), &ok);
        }
    }
    free(cs);
    api_jadd(col, "ok", cJSON_CreateNumber(ok_count), &ok);
    api_jadd(col, "failing", cJSON_CreateNumber(failing), &ok);
    api_jadd(col, "pending", cJSON_CreateNumber(pending), &ok);
    api_jadd(col, "failing_devices", down, &ok);
    return api_json_finish(col, ok);
}

/* peers (an addition): each configured peer as the watcher last saw it
 * (core/peer_watch.h). reachable: an HTTP answer came (a 401 or a garbage
 * answer is reachable, yet not usable); accepting and spare_kw only from a
 * usable answer; error: why the answer is not usable; age_s: seconds
 * since it was asked. Before the first answer everything but the name is
 * null and state is "pending". */
static cJSON *status_peers(struct api_call *c, int64_t *until_ms)
{
    struct peer_status *ps = NULL;
    size_t n = peer_watch_snapshot(c->a->peers, &ps);
    bool ok = true;
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        const struct peer_status *p = &ps[i];
        const struct peer_capacity_result *r = &p->last;
        bool usable = p->polled && r->state == PEER_OK;
        cJSON *o = api_jadd(list, NULL, cJSON_CreateObject(), &ok);
        api_jadd(o, "name", cJSON_CreateString(p->name), &ok);
        enum peer_state state = p->polled ? r->state : PEER_NOT_ASKED;
        api_jadd(o, "state", cJSON_CreateString(peer_state_name(state)), &ok);
        api_jadd(o, "reachable",
                 p->polled ? cJSON_CreateBool(r->state != PEER_UNREACHABLE) : cJSON_CreateNull(),
                 &ok);
        api_jadd(o, "accepting", usable ? cJSON_CreateBool(r->cap.accepting) : cJSON_CreateNull(),
                 &ok);
        api_jadd(o, "spare_kw", usable ? api_json_number(r->cap.spare_kw) : cJSON_CreateNull(),
                 &ok);
        int64_t age_ms = c->now_ms - p->checked_ms;
        /* age_s shows whole seconds: it next changes a second after the
         * last one it counted. */
        int64_t next_age_ms = p->checked_ms + (age_ms > 0 ? age_ms / 1000 + 1 : 1) * 1000;
        if (p->polled && next_age_ms < *until_ms)
            *until_ms = next_age_ms;
        api_jadd(o, "age_s",
                 p->polled ? cJSON_CreateNumber((double)(age_ms > 0 ? age_ms / 1000 : 0))
                           : cJSON_CreateNull(),
                 &ok);
        api_jadd(o, "checked", api_json_time(p->polled ? p->checked_ms : 0), &ok);
        api_jadd(o, "error",
                 p->polled && !usable ? cJSON_CreateString(r->reason) : cJSON_CreateNull(), &ok);
    }
    free(ps);
    return api_json_finish(list, ok);
}

/* SPEC 4's status. `alarms` lists the policies that are pending or
 * firing; `accepting` is false while a critical policy fires (SPEC 3).
 * `capacity` is GET /v1/capacity's answer, whose own `accepting` is also
 * false while its inputs are unknown. migrations_active counts the
 * migrations from this site without a result yet. Collectors that have not finished a poll yet
 * are "pending", neither ok nor failing. "store" (an addition) tells whether history is
 * being kept: samples stored, and samples dropped because the store fell
 * behind. "timezone" (an addition) is site.timezone, so a client can show
 * the API's UTC times as the site's local time. "peers" (an addition):
 * status_peers above. */
static struct api_render *render_status(struct api_call *c, int64_t mono_ms,
                                        struct api_valid *valid)
{
    int64_t uptime_ms = mono_ms - c->a->started_mono_ms;
    int64_t uptime_s = uptime_ms > 0 ? uptime_ms / 1000 : 0;
    /* Capacity may read history windows, the site's hour or (for constant
     * expressions) the time itself: it is evaluated anew each second,
     * and whenever a metric's quality changes. */
    *valid = (struct api_valid){
        .from_ms = c->now_ms,
        .until_ms = next_second_ms(c->now_ms),
        .mono_from_ms = mono_ms,
        .mono_until_ms = c->a->started_mono_ms + (uptime_s + 1) * 1000,
    };
    int64_t stale_at = metrics_quality_changes_at(c->a->metrics, c->now_ms);
    if (stale_at < valid->until_ms)
        valid->until_ms = stale_at;
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "site", cJSON_CreateString(c->cfg->site.name ? c->cfg->site.name : ""), &ok);
    api_jadd(root, "timezone",
             cJSON_CreateString(c->cfg->site.timezone ? c->cfg->site.timezone : "UTC"), &ok);
    api_jadd(root, "version", cJSON_CreateString(FLOE_VERSION), &ok);
    api_jadd(root, "uptime_s", cJSON_CreateNumber((double)uptime_s), &ok);
    if (!api_status_alarms(c, root) || !api_status_migrations(c, root) ||
        !api_status_capacity(c, root) || !api_status_imports(c, root))
        ok = false;
    api_jadd(root, "collectors", status_collectors(c), &ok);
    api_jadd(root, "peers", status_peers(c, &valid->until_ms), &ok);
    int64_t stored = c->a->store ? store_sample_count(c->a->store) : -1;
    cJSON *st = api_jadd(root, "store", cJSON_CreateObject(), &ok);
    api_jadd(st, "samples", stored >= 0 ? cJSON_CreateNumber((double)stored) : cJSON_CreateNull(), &ok);
    api_jadd(st, "dropped", cJSON_CreateNumber((double)metrics_dropped(c->a->metrics)), &ok);
    return render_json(api_json_finish(root, ok));
}

static void handle_status(struct api_call *c, const char *param)
{
    (void)param;
    respond_cached(c, c->a->api_cache ? &c->a->api_cache->status : NULL, true, render_status,
                   API_JSON);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The metrics that are on/off (Modbus coils, discrete inputs and `bit`
 * points), sorted for bsearch: a new array of names borrowed from cfg
 * (caller frees the array), NULL when there are none. */
static const char **bool_metrics(const struct floe_config *cfg, size_t *n)
{
    size_t count = 0;
    for (size_t d = 0; d < cfg->nmodbus; d++)
        for (size_t p = 0; p < cfg->modbus[d].npoints; p++)
            count += cfg->modbus[d].points[p].type == MB_TYPE_BOOL;
    *n = 0;
    const char **names = count ? malloc(count * sizeof *names) : NULL;
    if (!names)
        return NULL;
    for (size_t d = 0; d < cfg->nmodbus; d++)
        for (size_t p = 0; p < cfg->modbus[d].npoints; p++)
            if (cfg->modbus[d].points[p].type == MB_TYPE_BOOL)
                names[(*n)++] = cfg->modbus[d].points[p].metric;
    qsort(names, *n, sizeof *names, compare_names);
    return names;
}

/* One metric's object, with a hole where age_s goes (into holes[*nholes])
 * when the metric has a good sample. Keys and order as cJSON wrote them
 * before (docs/api.md). */
static void telemetry_entry(struct strbuf *b, const struct metric_snapshot *m, bool is_bool,
                            struct api_age_hole *holes, size_t *nholes)
{
    strbuf_puts(b, "{\"name\":");
    json_put_string(b, m->name);
    strbuf_puts(b, ",\"value\":");
    json_put_number(b, m->value);
    strbuf_puts(b, ",\"unit\":");
    json_put_string(b, m->unit);
    strbuf_puts(b, ",\"quality\":");
    json_put_string(b, metrics_quality_name(m->quality));
    strbuf_puts(b, ",\"ts\":");
    json_put_time(b, m->ts_ms);
    strbuf_puts(b, ",\"age_s\":");
    if (m->ts_ms > 0)
        holes[(*nholes)++] = (struct api_age_hole){.at = b->len, .ts_ms = m->ts_ms};
    else
        strbuf_puts(b, "null");
    strbuf_puts(b, ",\"source\":");
    json_put_string(b, m->source);
    /* Additions: "bool" (value 1 on, 0 off) or "number"; why the last
     * read failed while quality is "error", else null. */
    strbuf_puts(b, is_bool ? ",\"type\":\"bool\",\"error\":" : ",\"type\":\"number\",\"error\":");
    json_put_string(b, m->quality == MQ_ERROR ? m->reason : NULL);
    strbuf_puts(b, "}");
}

/* The body with a hole per age: it holds until a metric's quality
 * changes (a good one turning stale) or its inputs do. */
static struct api_render *render_telemetry(struct api_call *c, int64_t mono_ms,
                                           struct api_valid *valid)
{
    (void)mono_ms;
    *valid = (struct api_valid){.from_ms = c->now_ms,
                                .until_ms = metrics_quality_changes_at(c->a->metrics, c->now_ms),
                                .mono_from_ms = INT64_MIN,
                                .mono_until_ms = INT64_MAX};
    struct metric_snapshot *ms = NULL;
    size_t n = metrics_snapshot(c->a->metrics, c->now_ms, &ms);
    size_t nbool = 0;
    const char **bools = bool_metrics(c->cfg, &nbool);
    struct api_age_hole *holes = n ? malloc(n * sizeof *holes) : NULL;
    size_t nholes = 0;
    struct strbuf b = {.failed = n && !holes};
    /* About 300 bytes a metric: one allocation in most cases. */
    strbuf_reserve(&b, 32 + n * 320);
    strbuf_puts(&b, "{\"metrics\":[");
    for (size_t i = 0; i < n && !b.failed; i++) {
        const char *name = ms[i].name;
        bool is_bool = nbool && bsearch(&name, bools, nbool, sizeof *bools, compare_names);
        if (i)
            strbuf_puts(&b, ",");
        telemetry_entry(&b, &ms[i], is_bool, holes, &nholes);
    }
    strbuf_puts(&b, "]}");
    free(bools);
    free(ms);
    size_t len = b.len;
    char *text = strbuf_take(&b);
    if (!text) {
        free(holes);
        return NULL;
    }
    return api_render_new(text, len, holes, nholes);
}

static void handle_telemetry(struct api_call *c, const char *param)
{
    (void)param;
    respond_cached(c, c->a->api_cache ? &c->a->api_cache->telemetry : NULL, false,
                   render_telemetry, API_JSON);
}

/* Reads a time parameter (RFC 3339 or Unix seconds). Returns 0 (value or
 * default in *out) or -1 after answering 400. */
static int time_param(struct api_call *c, const char *key, int64_t dflt, int64_t *out)
{
    char v[API_QUERY_VALUE_MAX];
    int found = api_query_param(c->req->query, key, v, sizeof v);
    if (found == 0) {
        *out = dflt;
        return 0;
    }
    if (found < 0 || util_parse_time_ms(v, out) != 0) {
        api_respond_error(c, 400,
                      "%s: not a time (RFC 3339 like 2026-01-31T12:00:00Z, or Unix seconds)", key);
        return -1;
    }
    return 0;
}

/* step: a duration ("1m", "500ms") or a number of seconds; 0 = raw. */
static int step_param(struct api_call *c, int64_t *out_ms)
{
    char v[API_QUERY_VALUE_MAX];
    int found = api_query_param(c->req->query, "step", v, sizeof v);
    if (found == 0) {
        *out_ms = 0;
        return 0;
    }
    if (found > 0 && v[0]) {
        char *end;
        double secs = strtod(v, &end);
        if (strspn(v, "0123456789.") == strlen(v) && end != v && !*end && secs < 1e10) {
            *out_ms = llround(secs * 1000.0);
            return 0;
        }
        char derr[128];
        if (util_parse_duration_ms(v, out_ms, derr, sizeof derr) == 0)
            return 0;
    }
    api_respond_error(c, 400, "step: not a duration (like \"1m\", \"30s\") or a number of seconds");
    return -1;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Step buckets (aligned to the epoch, as the store aligns them) that
 * [since, until] touches. */
static int64_t bucket_count(int64_t since_ms, int64_t until_ms, int64_t step_ms)
{
    return floor_div(until_ms, step_ms) - floor_div(since_ms, step_ms) + 1;
}

/* The smallest whole-second step that keeps [since, until] within
 * API_HISTORY_MAX_POINTS buckets: range/(max-1), rounded up, touches at most
 * max buckets however the range sits against the epoch. */
static int64_t fitting_step_ms(int64_t since_ms, int64_t until_ms)
{
    int64_t range = until_ms - since_ms;
    int64_t step = range / (API_HISTORY_MAX_POINTS - 1) + 1;
    step = (step + 999) / 1000 * 1000;
    while (bucket_count(since_ms, until_ms, step) > API_HISTORY_MAX_POINTS)
        step += 1000;
    return step;
}

/* Points of the metric; raises *step_ms when the answer would pass the cap.
 * Returns 0, or -1 after answering 500. */
static int history_points(struct api_call *c, const char *metric, int64_t since_ms,
                          int64_t until_ms, int64_t *step_ms, struct store_point **pts, size_t *n)
{
    char err[256];
    *pts = NULL;
    *n = 0;
    if (!c->a->store)
        return 0;
    if (*step_ms > 0 && bucket_count(since_ms, until_ms, *step_ms) > API_HISTORY_MAX_POINTS)
        *step_ms = fitting_step_ms(since_ms, until_ms);
    /* Raw samples: ask for one more than the cap to learn whether they fit. */
    size_t ask = *step_ms ? API_HISTORY_MAX_POINTS : API_HISTORY_MAX_POINTS + 1;
    if (store_query(c->a->store, metric, since_ms, until_ms, *step_ms, ask, pts, n, err,
                    sizeof err) != 0)
        goto fail;
    if (*n > API_HISTORY_MAX_POINTS) {
        free(*pts);
        *pts = NULL;
        *n = 0;
        *step_ms = fitting_step_ms(since_ms, until_ms);
        if (store_query(c->a->store, metric, since_ms, until_ms, *step_ms, API_HISTORY_MAX_POINTS,
                        pts, n, err, sizeof err) != 0)
            goto fail;
    }
    return 0;
fail:
    api_respond_error(c, 500, "history of %s: %s", metric, err);
    return -1;
}

/* True when the store holds any good sample of the metric, at any time. */
static bool history_exists(struct api_call *c, const char *metric)
{
    struct store_point *one = NULL;
    size_t n = 0;
    char err[256];
    if (!c->a->store ||
        store_query(c->a->store, metric, 0, INT64_MAX, 0, 1, &one, &n, err, sizeof err) != 0)
        return false;
    free(one);
    return n > 0;
}

static cJSON *history_json(const char *metric, const char *unit, int64_t step_ms,
                           const struct store_point *pts, size_t n)
{
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    api_jadd(root, "name", cJSON_CreateString(metric), &ok);
    api_jadd(root, "unit", cJSON_CreateString(unit), &ok);
    api_jadd(root, "step_s", cJSON_CreateNumber((double)step_ms / 1000.0), &ok);
    cJSON *list = api_jadd(root, "points", cJSON_CreateArray(), &ok);
    for (size_t i = 0; i < n && ok; i++) {
        cJSON *pair = api_jadd(list, NULL, cJSON_CreateArray(), &ok);
        api_jadd(pair, NULL, api_json_time(pts[i].ts_ms), &ok);
        api_jadd(pair, NULL, api_json_number(pts[i].value), &ok);
    }
    return api_json_finish(root, ok);
}

static void handle_history(struct api_call *c, const char *metric)
{
    if (!util_metric_name_valid(metric)) {
        api_respond_error(c, 404, "no such metric (names are [a-z0-9_] segments joined by '.')");
        return;
    }
    int64_t until_ms, since_ms, step_ms;
    if (time_param(c, "until", c->now_ms, &until_ms) != 0 ||
        time_param(c, "since", until_ms - API_HISTORY_DEFAULT_RANGE_MS, &since_ms) != 0 ||
        step_param(c, &step_ms) != 0)
        return;
    if (since_ms > until_ms) {
        api_respond_error(c, 400, "since: later than until");
        return;
    }
    struct metric_snapshot snap;
    bool known = metrics_get(c->a->metrics, metric, c->now_ms, &snap);
    struct store_point *pts = NULL;
    size_t n = 0;
    if (history_points(c, metric, since_ms, until_ms, &step_ms, &pts, &n) != 0)
        return;
    if (!known && n == 0 && !history_exists(c, metric)) {
        api_respond_error(c, 404, "no metric named %s", metric);
        return;
    }
    cJSON *root = history_json(metric, known ? snap.unit : "", step_ms, pts, n);
    free(pts);
    api_respond_json(c, 200, root);
}

/* The page holds until a metric's quality changes, or the next second
 * (capacity, as for /v1/status), or its inputs change. */
static struct api_render *render_prometheus(struct api_call *c, int64_t mono_ms,
                                            struct api_valid *valid)
{
    (void)mono_ms;
    *valid = (struct api_valid){.from_ms = c->now_ms,
                                .until_ms = next_second_ms(c->now_ms),
                                .mono_from_ms = INT64_MIN,
                                .mono_until_ms = INT64_MAX};
    int64_t stale_at = metrics_quality_changes_at(c->a->metrics, c->now_ms);
    if (stale_at < valid->until_ms)
        valid->until_ms = stale_at;
    struct metric_snapshot *ms = NULL;
    struct collector_snapshot *cs = NULL;
    size_t nms = metrics_snapshot(c->a->metrics, c->now_ms, &ms);
    size_t ncs = metrics_collectors(c->a->metrics, &cs);
    size_t len = 0;
    char *text = api_prom_render(ms, nms, cs, ncs, metrics_dropped(c->a->metrics), &len);
    free(ms);
    free(cs);
    char *records = text ? api_prom_records(c) : NULL;
    char *capacity = records ? api_prom_capacity(c) : NULL;
    char *imports = capacity ? api_prom_imports(c) : NULL;
    struct peer_status *ps = NULL;
    size_t nps = peer_watch_snapshot(c->a->peers, &ps);
    char *peers = records ? api_prom_peers(ps, nps) : NULL;
    free(ps);
    char *migrations = peers ? api_prom_migrations(c) : NULL;
    /* Every part or a 500: a scrape missing families would read as
     * series that vanished. */
    struct strbuf body = {.failed = !text || !records || !capacity || !imports || !peers ||
                                    !migrations};
    if (!body.failed) {
        strbuf_append(&body, text, len);
        strbuf_puts(&body, records);
        strbuf_puts(&body, capacity);
        strbuf_puts(&body, imports);
        strbuf_puts(&body, peers);
        strbuf_puts(&body, migrations);
    }
    free(text);
    free(records);
    free(capacity);
    free(imports);
    free(peers);
    free(migrations);
    len = body.len;
    text = strbuf_take(&body);
    return text ? api_render_new(text, len, NULL, 0) : NULL;
}

static void handle_prometheus(struct api_call *c, const char *param)
{
    (void)param;
    respond_cached(c, c->a->api_cache ? &c->a->api_cache->prometheus : NULL, true,
                   render_prometheus, API_PROM_CONTENT_TYPE);
}

/* ---- entry points ---- */

static void api_dispatch(struct api_call *c)
{
    const struct api_request *req = c->req;
    if (req->body_too_large || req->body_len > API_MAX_BODY) {
        api_respond_error(c, 413, "request body larger than %d bytes", API_MAX_BODY);
        return;
    }
    /* HEAD is GET without the body; the transport leaves the body out. */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    const struct api_route *route = NULL, *any = NULL;
    const char *param = NULL;
    for (size_t i = 0; i < ARRAY_LEN(api_routes) && !route; i++) {
        const char *p;
        if (!route_matches(&api_routes[i], req->path, &p))
            continue;
        any = &api_routes[i];
        if (strcmp(api_routes[i].method, method) == 0) {
            route = &api_routes[i];
            param = p;
        }
    }
    if (!any) {
        api_respond_error(c, 404, "no such endpoint");
        return;
    }
    if (!route) {
        char allow[64];
        api_allowed_methods(req->path, allow, sizeof allow);
        api_respond_error(c, 405, "method %s not allowed here (allowed: %s)", req->method, allow);
        return;
    }
    const char *why = "";
    int denied =
        api_authorize(&c->cfg->http, req->authorization, route->need, &why, &c->actor, &c->role);
    if (denied) {
        api_respond_error(c, denied, "%s", why);
        return;
    }
    route->handler(c, param);
}

void api_handle(struct agent *a, const struct api_request *req, struct api_response *resp)
{
    memset(resp, 0, sizeof *resp);
    struct api_call c = {.a = a, .req = req, .resp = resp, .now_ms = util_now_ms()};
    struct floe_config *cfg = agent_config_get_gen(a, &c.cfg_gen);
    c.cfg = cfg;
    api_dispatch(&c);
    config_unref(cfg);
}

void api_response_clear(struct api_response *resp)
{
    if (!resp)
        return;
    if (resp->shared)
        api_render_unref(resp->shared);
    else
        free(resp->body);
    resp->shared = NULL;
    resp->body = NULL;
    resp->body_len = 0;
}
