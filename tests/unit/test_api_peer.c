/*
 * test_api_peer — the answering side of the peer protocol through
 * api_handle() (no sockets): roles, the exact shapes of GET /v1/capacity,
 * 201 and 409 of POST /v1/reservations, every bad body answered 400
 * naming its field, DELETE (its own, another's, unknown, twice), the
 * listing, /v1/status's capacity and the two /metrics families. The agent
 * is hand-built with live metrics at the wall clock's now, as api_handle
 * evaluates at that time; expiry at a TTL is test_capacity's and
 * reservations.sh's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "lib/util.h"
#include "store/store_resv.h"

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"
#define TOKEN_ADMIN "admin-token-0123456789"
#define TOKEN_PEER "peer-token-0123456789"
#define TOKEN_PEER2 "peer2-token-0123456789"
#define AUTH_PEER "Bearer " TOKEN_PEER
#define AUTH_PEER2 "Bearer " TOKEN_PEER2
#define AUTH_ADMIN "Bearer " TOKEN_ADMIN

struct fixture {
    char dir[64];
    char db[96];
    struct cfg_token tokens[5];
    struct floe_config cfg; /* on the fixture: it holds one reference for good */
    struct agent a;
};

/* power 650 - 400 = 250, cooling 600 - 400 = 200, margin 20: 180 kW. */
static void site_now(struct fixture *f)
{
    int64_t now = util_now_ms();
    metrics_set_good(f->a.metrics, "power.supply_kw", 650, "kW", "pdu", 60000, now);
    metrics_set_good(f->a.metrics, "it.load_kw", 400, "kW", "pdu", 60000, now);
    metrics_set_good(f->a.metrics, "cooling.capacity_kw", 600, "kW", "derive", 60000, now);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-peer.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    f->tokens[2] = (struct cfg_token){"root", ROLE_ADMIN, TOKEN_ADMIN};
    f->tokens[3] = (struct cfg_token){"falkenberg-1", ROLE_PEER, TOKEN_PEER};
    f->tokens[4] = (struct cfg_token){"oslo-2", ROLE_PEER, TOKEN_PEER2};
    f->cfg.site.name = "lulea-1";
    f->cfg.site.ingress = "192.0.2.10";
    f->cfg.http.tokens = f->tokens;
    f->cfg.http.ntokens = 5;
    f->cfg.capacity.power_headroom_kw = "power.supply_kw - it.load_kw";
    f->cfg.capacity.cooling_headroom_kw = "cooling.capacity_kw - it.load_kw";
    f->cfg.capacity.margin_kw = 20;
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->a.metrics = metrics_new(1000);
    assert_non_null(f->a.metrics);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.started_ms = util_now_ms();
    f->a.started_mono_ms = util_mono_ms();
    site_now(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->a.store);
    metrics_free(f->a.metrics);
    agent_config_clear(&f->a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

struct answer {
    int status;
    char *body;
    cJSON *json;
};

static void answer_clear(struct answer *ans)
{
    free(ans->body);
    cJSON_Delete(ans->json);
    memset(ans, 0, sizeof *ans);
}

static struct answer call(struct fixture *f, const char *method, const char *path,
                          const char *query, const char *authorization, const char *body)
{
    struct api_request req = {.method = method, .path = path, .query = query,
                              .authorization = authorization, .body = body,
                              .body_len = body ? strlen(body) : 0};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    struct answer ans = {.status = resp.status};
    assert_non_null(resp.body);
    ans.body = strndup(resp.body, resp.body_len);
    if (strcmp(resp.content_type, "application/json") == 0) {
        ans.json = cJSON_Parse(ans.body);
        if (!ans.json)
            fail_msg("%s %s: body is not JSON: %s", method, path, ans.body);
    }
    api_response_clear(&resp);
    return ans;
}

static void assert_keys(const cJSON *obj, const char *const *keys)
{
    assert_true(cJSON_IsObject(obj));
    const cJSON *item = obj->child;
    for (size_t i = 0; keys[i]; i++, item = item->next) {
        if (!item)
            fail_msg("key %s missing", keys[i]);
        assert_string_equal(item->string, keys[i]);
    }
    if (item)
        fail_msg("unexpected key %s", item->string);
}

static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        fail_msg("no field %s", key);
    return v;
}

static double number(const cJSON *obj, const char *key)
{
    const cJSON *v = field(obj, key);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", key);
    return v->valuedouble;
}

static void assert_error(const struct answer *ans, int status, const char *code, const char *prefix)
{
    if (ans->status != status)
        fail_msg("expected %d, got %d: %s", status, ans->status, ans->body);
    assert_string_equal(field(ans->json, "code")->valuestring, code);
    const char *msg = field(ans->json, "error")->valuestring;
    if (prefix && strncmp(msg, prefix, strlen(prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", msg, prefix);
}

/* POSTs a reservation; returns the answer (caller clears). */
static struct answer post(struct fixture *f, const char *auth, const char *workload, double kw)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"from_site\": \"falkenberg-1\", \"workload\": \"%s\", \"kw\": %g, \"ttl_s\": 600}",
             workload, kw);
    return call(f, "POST", "/v1/reservations", NULL, auth, body);
}

/* Grants and returns the id; fails the test otherwise. */
static void granted(struct fixture *f, const char *auth, const char *workload, double kw,
                    char id[STORE_RESV_ID_SIZE])
{
    struct answer ans = post(f, auth, workload, kw);
    if (ans.status != 201)
        fail_msg("POST %s %g kW: %d %s", workload, kw, ans.status, ans.body);
    util_strlcpy(id, field(ans.json, "id")->valuestring, STORE_RESV_ID_SIZE);
    answer_clear(&ans);
}

static double spare_now(struct fixture *f)
{
    struct answer ans = call(f, "GET", "/v1/capacity", NULL, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    double spare = number(ans.json, "spare_kw");
    answer_clear(&ans);
    return spare;
}

static void peer_endpoints_are_for_peers_and_admins_only(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *method, *path;
    } endpoints[] = {
        {"GET", "/v1/capacity"},
        {"GET", "/v1/reservations"},
        {"POST", "/v1/reservations"},
        {"DELETE", "/v1/reservations/rsv-0123456789abcdef"},
    };
    static const struct {
        const char *auth;
        int status;
    } callers[] = {
        {NULL, 401},
        {"Bearer wrong", 401},
        {"Bearer " TOKEN_READ, 403},
        {"Bearer " TOKEN_OPERATOR, 403},
    };
    for (int anonymous = 0; anonymous <= 1; anonymous++) {
        f->cfg.http.anonymous_read = anonymous; /* opens read endpoints, not these */
        for (size_t e = 0; e < ARRAY_LEN(endpoints); e++) {
            for (size_t c = 0; c < ARRAY_LEN(callers); c++) {
                struct answer ans = call(f, endpoints[e].method, endpoints[e].path, NULL,
                                         callers[c].auth, "{}");
                if (ans.status != callers[c].status)
                    fail_msg("%s %s with %s: want %d, got %d", endpoints[e].method,
                             endpoints[e].path, callers[c].auth ? callers[c].auth : "(none)",
                             callers[c].status, ans.status);
                if (ans.status == 403)
                    assert_error(&ans, 403, "forbidden", "this endpoint is for peers and admins");
                answer_clear(&ans);
            }
            /* Peers and admins get past the role check. */
            const char *ok_auths[] = {AUTH_PEER, AUTH_ADMIN};
            for (size_t c = 0; c < ARRAY_LEN(ok_auths); c++) {
                struct answer ans = call(f, endpoints[e].method, endpoints[e].path, NULL,
                                         ok_auths[c], "{}");
                assert_true(ans.status != 401 && ans.status != 403);
                answer_clear(&ans);
            }
        }
    }
    struct answer ans = call(f, "PUT", "/v1/reservations", NULL, AUTH_PEER, "{}");
    assert_error(&ans, 405, "method_not_allowed", "method PUT not allowed here (allowed: GET, HEAD, POST)");
    answer_clear(&ans);
}

static void capacity_answers_spec_fields(void **state)
{
    struct fixture *f = *state;
    int64_t before = util_now_ms();
    site_now(f);
    struct answer ans = call(f, "GET", "/v1/capacity", NULL, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    const char *keys[] = {"site",        "accepting", "spare_kw",  "power_headroom_kw",
                          "cooling_headroom_kw",      "reserved_kw", "ingress", "as_of",
                          "margin_kw",   "reason",    NULL};
    assert_keys(ans.json, keys);
    assert_string_equal(field(ans.json, "site")->valuestring, "lulea-1");
    assert_true(cJSON_IsTrue(field(ans.json, "accepting")));
    assert_true(number(ans.json, "spare_kw") == 180);
    assert_true(number(ans.json, "power_headroom_kw") == 250);
    assert_true(number(ans.json, "cooling_headroom_kw") == 200);
    assert_true(number(ans.json, "reserved_kw") == 0);
    assert_true(number(ans.json, "margin_kw") == 20);
    assert_string_equal(field(ans.json, "ingress")->valuestring, "192.0.2.10");
    assert_true(cJSON_IsNull(field(ans.json, "reason")));
    int64_t as_of;
    assert_int_equal(util_parse_time_ms(field(ans.json, "as_of")->valuestring, &as_of), 0);
    assert_true(as_of >= before && as_of <= util_now_ms());
    answer_clear(&ans);

    /* Inputs unknown: headroom null, spare 0, not accepting, and why. */
    metrics_set_error(f->a.metrics, "power.supply_kw", "pdu", 60000, "timed out", util_now_ms());
    f->cfg.site.ingress = NULL;
    ans = call(f, "GET", "/v1/capacity", NULL, AUTH_ADMIN, NULL);
    assert_int_equal(ans.status, 200);
    assert_true(cJSON_IsFalse(field(ans.json, "accepting")));
    assert_true(number(ans.json, "spare_kw") == 0);
    assert_true(cJSON_IsNull(field(ans.json, "power_headroom_kw")));
    assert_true(number(ans.json, "cooling_headroom_kw") == 200);
    assert_true(cJSON_IsNull(field(ans.json, "ingress")));
    assert_string_equal(field(ans.json, "reason")->valuestring,
                        "capacity input unknown: power.supply_kw");
    answer_clear(&ans);
}

static void post_grants_201_with_id_kw_and_expiry(void **state)
{
    struct fixture *f = *state;
    int64_t before = util_now_ms();
    struct answer ans = post(f, AUTH_PEER, "shop", 40.5);
    int64_t after = util_now_ms();
    assert_int_equal(ans.status, 201);
    const char *keys[] = {"id", "kw", "expires_at", NULL};
    assert_keys(ans.json, keys);
    const char *id = field(ans.json, "id")->valuestring;
    assert_int_equal(strlen(id), 20);
    assert_memory_equal(id, "rsv-", 4);
    assert_true(number(ans.json, "kw") == 40.5);
    int64_t expires;
    assert_int_equal(util_parse_time_ms(field(ans.json, "expires_at")->valuestring, &expires), 0);
    assert_true(expires >= before + 600000 && expires <= after + 600000);
    struct store_resv r;
    char err[256];
    assert_int_equal(store_resv_get(f->a.store, id, &r, err, sizeof err), 0);
    assert_string_equal(r.granted_by, "falkenberg-1"); /* the token's name */
    assert_string_equal(r.workload, "shop");
    store_resv_clear(&r);
    answer_clear(&ans);
    assert_true(spare_now(f) == 139.5);

    /* Without ttl_s: 900 s. */
    before = util_now_ms();
    ans = call(f, "POST", "/v1/reservations", NULL, AUTH_ADMIN,
               "{\"from_site\": \"oslo-2\", \"workload\": \"web\", \"kw\": 1, \"extra\": [1]}");
    assert_int_equal(ans.status, 201);
    assert_int_equal(util_parse_time_ms(field(ans.json, "expires_at")->valuestring, &expires), 0);
    assert_true(expires >= before + 900000 && expires <= util_now_ms() + 900000);
    answer_clear(&ans);
}

static void post_refused_409_names_the_spare(void **state)
{
    struct fixture *f = *state;
    char id[STORE_RESV_ID_SIZE];
    granted(f, AUTH_PEER, "shop", 150, id);
    struct answer ans = post(f, AUTH_PEER2, "web", 30.5);
    assert_error(&ans, 409, "no_capacity", "not enough spare capacity: 30.5 kW asked, 30 kW spare");
    const char *keys[] = {"error", "code", "spare_kw", NULL};
    assert_keys(ans.json, keys);
    assert_true(number(ans.json, "spare_kw") == 30);
    answer_clear(&ans);
    granted(f, AUTH_PEER2, "web", 30, id); /* exactly what is left */
    assert_true(spare_now(f) == 0);
    ans = post(f, AUTH_PEER, "tiny", 0.001);
    assert_error(&ans, 409, "no_capacity", "not enough spare capacity: 0.001 kW asked, 0 kW spare");
    assert_true(number(ans.json, "spare_kw") == 0);
    answer_clear(&ans);
}

static void post_refused_when_not_accepting(void **state)
{
    struct fixture *f = *state;
    metrics_set_error(f->a.metrics, "it.load_kw", "pdu", 60000, "timed out", util_now_ms());
    struct answer ans = post(f, AUTH_PEER, "shop", 1);
    assert_error(&ans, 409, "not_accepting",
                 "not accepting work: capacity input unknown: it.load_kw");
    assert_true(number(ans.json, "spare_kw") == 0);
    answer_clear(&ans);
    ans = call(f, "GET", "/v1/reservations", "all=1", AUTH_ADMIN, NULL);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "reservations")), 0);
    answer_clear(&ans);
}

static void bad_bodies_are_400_naming_the_field(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body;
        const char *error;
    } cases[] = {
        {NULL, "body: a JSON object {\"from_site\", \"workload\", \"kw\", \"ttl_s\"} is required"},
        {"{", "body: line 1 column 2: "},
        {"[1]", "body: must be a JSON object"},
        {"\"x\"", "body: must be a JSON object"},
        {"{\"workload\": \"w\", \"kw\": 1}", "from_site: required"},
        {"{\"from_site\": 5, \"workload\": \"w\", \"kw\": 1}", "from_site: must be a string of 1 to 64"},
        {"{\"from_site\": \"\", \"workload\": \"w\", \"kw\": 1}", "from_site: must be a string"},
        {"{\"from_site\": \"a b\", \"workload\": \"w\", \"kw\": 1}", "from_site: must be a string"},
        {"{\"from_site\": \"a\\nb\", \"workload\": \"w\", \"kw\": 1}", "from_site: must be a string"},
        {"{\"from_site\": \"s\", \"kw\": 1}", "workload: required"},
        {"{\"from_site\": \"s\", \"workload\": null, \"kw\": 1}", "workload: must be a string"},
        {"{\"from_site\": \"s\", \"workload\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"kw\": 1}",
         "workload: must be a string of 1 to 64"},
        {"{\"from_site\": \"s\", \"workload\": \"w\"}", "kw: required"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": \"10\"}", "kw: must be a finite number of kW above 0"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": true}", "kw: must be a finite number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": null}", "kw: must be a finite number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 0}", "kw: must be a finite number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": -5}", "kw: must be a finite number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1e999}", "body: line 1 column 43: number out of range"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": 9.9}", "ttl_s: must be a number of seconds from 10 to 86400"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": 86401}", "ttl_s: must be a number of seconds from 10 to 86400"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": \"60\"}", "ttl_s: must be a number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": null}", "ttl_s: must be a number"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": -1e999}", "body: line 1 column"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct answer ans = call(f, "POST", "/v1/reservations", NULL, AUTH_PEER, cases[i].body);
        if (ans.status != 400)
            fail_msg("body %s: want 400, got %d %s", cases[i].body ? cases[i].body : "(none)",
                     ans.status, ans.body);
        assert_error(&ans, 400, "bad_request", cases[i].error);
        answer_clear(&ans);
    }
    /* The bounds themselves are accepted. */
    const char *edges[] = {
        "{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 0.001, \"ttl_s\": 10}",
        "{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": 86400}",
    };
    for (size_t i = 0; i < ARRAY_LEN(edges); i++) {
        struct answer ans = call(f, "POST", "/v1/reservations", NULL, AUTH_PEER, edges[i]);
        if (ans.status != 201)
            fail_msg("%s: want 201, got %d %s", edges[i], ans.status, ans.body);
        answer_clear(&ans);
    }
    struct answer ans = call(f, "GET", "/v1/reservations", NULL, AUTH_ADMIN, NULL);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "reservations")), 2);
    answer_clear(&ans);
}

static void delete_releases_own_reservation_once(void **state)
{
    struct fixture *f = *state;
    char mine[STORE_RESV_ID_SIZE], theirs[STORE_RESV_ID_SIZE];
    granted(f, AUTH_PEER, "shop", 100, mine);
    granted(f, AUTH_PEER2, "web", 50, theirs);
    assert_true(spare_now(f) == 30);
    char path[64];

    /* Another peer's reservation is not found for this peer. */
    snprintf(path, sizeof path, "/v1/reservations/%s", theirs);
    struct answer ans = call(f, "DELETE", path, NULL, AUTH_PEER, NULL);
    assert_error(&ans, 404, "not_found", "no reservation rsv-");
    answer_clear(&ans);
    assert_true(spare_now(f) == 30);

    snprintf(path, sizeof path, "/v1/reservations/%s", mine);
    ans = call(f, "DELETE", path, NULL, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    const char *keys[] = {"id",         "from_site",  "workload",   "kw",       "state", "confirmed",
                          "created_at", "expires_at", "granted_to", "ended_at", NULL};
    assert_keys(ans.json, keys);
    assert_string_equal(field(ans.json, "id")->valuestring, mine);
    assert_string_equal(field(ans.json, "state")->valuestring, "released");
    assert_true(number(ans.json, "kw") == 100);
    assert_true(cJSON_IsString(field(ans.json, "ended_at")));
    answer_clear(&ans);
    assert_true(spare_now(f) == 130);

    /* Twice: answered the same way, nothing more freed. */
    ans = call(f, "DELETE", path, NULL, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    assert_string_equal(field(ans.json, "state")->valuestring, "released");
    answer_clear(&ans);
    assert_true(spare_now(f) == 130);

    /* An admin releases anyone's. */
    snprintf(path, sizeof path, "/v1/reservations/%s", theirs);
    ans = call(f, "DELETE", path, NULL, AUTH_ADMIN, NULL);
    assert_int_equal(ans.status, 200);
    answer_clear(&ans);
    assert_true(spare_now(f) == 180);
    char err[256];
    struct store_resv r;
    assert_int_equal(store_resv_get(f->a.store, theirs, &r, err, sizeof err), 0);
    assert_string_equal(r.ended_by, "root");
    store_resv_clear(&r);

    static const char *const unknown[] = {
        "/v1/reservations/rsv-0123456789abcdef", "/v1/reservations/rsv-0123", "/v1/reservations/12",
        "/v1/reservations/rsv-0123456789ABCDEF", "/v1/reservations/rsv-0123456789abcdef0",
    };
    for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
        ans = call(f, "DELETE", unknown[i], NULL, AUTH_ADMIN, NULL);
        assert_error(&ans, 404, "not_found", "no ");
        answer_clear(&ans);
    }
}

static void listing_shows_own_or_all_and_ended_on_request(void **state)
{
    struct fixture *f = *state;
    char a[STORE_RESV_ID_SIZE], b[STORE_RESV_ID_SIZE];
    granted(f, AUTH_PEER, "shop", 10, a);
    granted(f, AUTH_PEER2, "web", 20, b);
    char path[64];
    snprintf(path, sizeof path, "/v1/reservations/%s", a);
    struct answer ans = call(f, "DELETE", path, NULL, AUTH_PEER, NULL);
    answer_clear(&ans);

    ans = call(f, "GET", "/v1/reservations", NULL, AUTH_PEER2, NULL);
    assert_int_equal(ans.status, 200);
    const cJSON *list = field(ans.json, "reservations");
    assert_int_equal(cJSON_GetArraySize(list), 1);
    const cJSON *r = cJSON_GetArrayItem(list, 0);
    assert_string_equal(field(r, "id")->valuestring, b);
    assert_string_equal(field(r, "from_site")->valuestring, "falkenberg-1");
    assert_string_equal(field(r, "workload")->valuestring, "web");
    assert_true(number(r, "kw") == 20);
    assert_string_equal(field(r, "state")->valuestring, "active");
    assert_true(cJSON_IsFalse(field(r, "confirmed")));
    assert_true(cJSON_IsString(field(r, "expires_at")));
    assert_string_equal(field(r, "granted_to")->valuestring, "oslo-2");
    assert_true(cJSON_IsNull(field(r, "ended_at")));
    answer_clear(&ans);

    ans = call(f, "GET", "/v1/reservations", NULL, AUTH_PEER, NULL);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "reservations")), 0);
    answer_clear(&ans);
    ans = call(f, "GET", "/v1/reservations", "all=1", AUTH_PEER, NULL);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "reservations")), 1);
    answer_clear(&ans);
    ans = call(f, "GET", "/v1/reservations", "all=1", AUTH_ADMIN, NULL);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "reservations")), 2);
    answer_clear(&ans);
    ans = call(f, "GET", "/v1/reservations", "all=yes", AUTH_ADMIN, NULL);
    assert_error(&ans, 400, "bad_request", "all: expected 0 or 1");
    answer_clear(&ans);

    /* Confirmed: counted with no expiry. */
    char err[256];
    assert_int_equal(store_resv_confirm(f->a.store, b, util_now_ms(), err, sizeof err), 0);
    ans = call(f, "GET", "/v1/reservations", NULL, AUTH_ADMIN, NULL);
    r = cJSON_GetArrayItem(field(ans.json, "reservations"), 0);
    assert_true(cJSON_IsTrue(field(r, "confirmed")));
    assert_true(cJSON_IsNull(field(r, "expires_at")));
    answer_clear(&ans);
}

static void status_and_metrics_carry_capacity(void **state)
{
    struct fixture *f = *state;
    char id[STORE_RESV_ID_SIZE];
    granted(f, AUTH_PEER, "shop", 42.5, id);
    struct answer ans = call(f, "GET", "/v1/status", NULL, "Bearer " TOKEN_READ, NULL);
    assert_int_equal(ans.status, 200);
    const cJSON *cap = field(ans.json, "capacity");
    assert_true(cJSON_IsTrue(field(cap, "accepting")));
    assert_true(number(cap, "spare_kw") == 137.5);
    assert_true(number(cap, "reserved_kw") == 42.5);
    answer_clear(&ans);

    ans = call(f, "GET", "/metrics", NULL, "Bearer " TOKEN_READ, NULL);
    assert_int_equal(ans.status, 200);
    assert_non_null(strstr(ans.body, "# TYPE floe_spare_kw gauge\nfloe_spare_kw 137.5\n"));
    assert_non_null(strstr(ans.body, "# TYPE floe_reserved_kw gauge\nfloe_reserved_kw 42.5\n"));
    answer_clear(&ans);
}

/* {"kw": 1, "kw": 500}: cJSON reads the first, most parsers the last; a
 * proxy or log that reads the other would disagree with the book on what
 * was promised. Such a body is refused, naming the key; a key the agent
 * does not know may repeat, as it is ignored anyway. */
static void a_key_named_twice_is_400_and_reserves_nothing(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body;
        const char *error;
    } cases[] = {
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"kw\": 500}", "kw: given twice"},
        {"{\"kw\": 500, \"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1}", "kw: given twice"},
        {"{\"from_site\": \"s\", \"from_site\": \"t\", \"workload\": \"w\", \"kw\": 1}",
         "from_site: given twice"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"workload\": \"w\", \"kw\": 1}",
         "workload: given twice"},
        {"{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, \"ttl_s\": 10, \"ttl_s\": 86400}",
         "ttl_s: given twice"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct answer ans = call(f, "POST", "/v1/reservations", NULL, AUTH_PEER, cases[i].body);
        if (ans.status != 400)
            fail_msg("body %s: want 400, got %d %s", cases[i].body, ans.status, ans.body);
        assert_error(&ans, 400, "bad_request", cases[i].error);
        answer_clear(&ans);
    }
    assert_true(spare_now(f) == 180);
    struct answer ans = call(f, "POST", "/v1/reservations", NULL, AUTH_PEER,
                             "{\"from_site\": \"s\", \"workload\": \"w\", \"kw\": 1, "
                             "\"note\": \"a\", \"note\": \"b\"}");
    if (ans.status != 201)
        fail_msg("an unknown key twice: want 201, got %d %s", ans.status, ans.body);
    answer_clear(&ans);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(peer_endpoints_are_for_peers_and_admins_only),
        T(capacity_answers_spec_fields),
        T(post_grants_201_with_id_kw_and_expiry),
        T(post_refused_409_names_the_spare),
        T(post_refused_when_not_accepting),
        T(bad_bodies_are_400_naming_the_field),
        T(a_key_named_twice_is_400_and_reserves_nothing),
        T(delete_releases_own_reservation_once),
        T(listing_shows_own_or_all_and_ended_on_request),
        T(status_and_metrics_carry_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
