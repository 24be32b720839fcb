/*
 * test_api — api_handle() called directly with a hand-built agent (config,
 * metrics from metrics_new, a temporary SQLite store): the auth matrix,
 * exact JSON shapes, quality and age, history with step and its cap, bad
 * parameters, 404/405/413, the Prometheus page, listen-address errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "api/api_prom.h"
#include "api/api_respond.h"
#include "core/peer_watch.h"
#include "lib/httpc.h"
#include "lib/util.h"
#include "policies/decision.h"

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"
#define TOKEN_ADMIN "admin-token-0123456789"
#define TOKEN_PEER "peer-token-0123456789"

#define METRIC "cooling.chiller1.capacity_kw"
/* 2026-01-01T00:00:00Z: a multiple of every step used below. */
#define BASE_MS 1767225600000LL

struct fixture {
    char dir[64];
    char db[96];
    struct cfg_token tokens[4];
    /* The fixture holds one reference to each config for good (they live
     * in the fixture, not on the heap), so the agent's unrefs never free
     * them; tests edit cfg only while no request is in flight. */
    struct floe_config cfg;
    struct floe_config cfg2;
    struct agent a;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-api.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    f->tokens[2] = (struct cfg_token){"root", ROLE_ADMIN, TOKEN_ADMIN};
    f->tokens[3] = (struct cfg_token){"lulea-2", ROLE_PEER, TOKEN_PEER};
    f->cfg.site.name = "lulea-1";
    f->cfg.http.tokens = f->tokens;
    f->cfg.http.ntokens = 4;
    f->cfg2.site.name = "lulea-2";
    f->cfg2.http = f->cfg.http;
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->a.metrics = metrics_new(100000);
    assert_non_null(f->a.metrics);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.started_ms = util_now_ms();
    f->a.started_mono_ms = util_mono_ms();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close(f->a.store);
    metrics_free(f->a.metrics);
    agent_config_clear(&f->a);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", f->db, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ---- */

struct answer {
    int status;
    char content_type[64];
    char *body;
    cJSON *json; /* parsed body when it is JSON */
};

static void answer_clear(struct answer *ans)
{
    free(ans->body);
    cJSON_Delete(ans->json);
    memset(ans, 0, sizeof *ans);
}

static struct answer call_full(struct fixture *f, const char *method, const char *path,
                               const char *query, const char *authorization, int too_large)
{
    struct api_request req = {.method = method,
                              .path = path,
                              .query = query,
                              .authorization = authorization,
                              .body_too_large = too_large};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    struct answer ans = {.status = resp.status};
    assert_non_null(resp.content_type);
    util_strlcpy(ans.content_type, resp.content_type, sizeof ans.content_type);
    assert_non_null(resp.body);
    ans.body = strndup(resp.body, resp.body_len);
    assert_int_equal(strlen(ans.body), resp.body_len);
    if (strcmp(resp.content_type, "application/json") == 0) {
        ans.json = cJSON_Parse(ans.body);
        if (!ans.json)
            fail_msg("%s %s: body is not JSON: %s", method, path, ans.body);
    }
    api_response_clear(&resp);
    assert_null(resp.body);
    return ans;
}

static struct answer get(struct fixture *f, const char *path, const char *query,
                         const char *authorization)
{
    return call_full(f, "GET", path, query, authorization, 0);
}

#define AUTH_READ "Bearer " TOKEN_READ
static const char *const auth_read = AUTH_READ;

/* Asserts the object's keys, in order, are exactly the NULL-terminated list. */
static void assert_keys(const cJSON *obj, const char *const *keys)
{
    assert_true(cJSON_IsObject(obj));
    const cJSON *item = obj->child;
    size_t i = 0;
    for (; keys[i]; i++, item = item->next) {
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

static void assert_error(const struct answer *ans, int status, const char *code,
                         const char *message_prefix)
{
    if (ans->status != status)
        fail_msg("expected %d, got %d: %s", status, ans->status, ans->body);
    const char *keys[] = {"error", "code", NULL};
    assert_keys(ans->json, keys);
    assert_string_equal(field(ans->json, "code")->valuestring, code);
    const char *msg = field(ans->json, "error")->valuestring;
    if (message_prefix && strncmp(msg, message_prefix, strlen(message_prefix)) != 0)
        fail_msg("error \"%s\" does not start with \"%s\"", msg, message_prefix);
}

static void write_samples(struct fixture *f, const char *metric, int64_t first_ms, int64_t every_ms,
                          size_t count)
{
    struct metric_sample *batch = calloc(count, sizeof *batch);
    assert_non_null(batch);
    for (size_t i = 0; i < count; i++) {
        util_strlcpy(batch[i].name, metric, sizeof batch[i].name);
        batch[i].ts_ms = first_ms + (int64_t)i * every_ms;
        batch[i].value = (double)i;
        batch[i].ok = true;
    }
    char err[256] = "";
    if (store_write_samples(f->a.store, batch, count, err, sizeof err) != 0)
        fail_msg("store_write_samples: %s", err);
    free(batch);
}

/* ---- auth ---- */

static void auth_matrix_per_endpoint_role_and_anonymous_read(void **state)
{
    struct fixture *f = *state;
    metrics_set_good(f->a.metrics, METRIC, 500, "kW", "chiller1", 15000, util_now_ms());
    static const char *const endpoints[] = {"/v1/status", "/v1/telemetry",
                                            ("/v1/telemetry/" METRIC), "/metrics"};
    static const struct {
        const char *authorization;
        int closed; /* status with anonymous_read false */
        int open;   /* status with anonymous_read true */
    } callers[] = {
        {NULL, 401, 200},
        {"Bearer wrong-token", 401, 401},
        {"Bearer " TOKEN_READ "x", 401, 401},      /* longer than a token */
        {"Bearer read-token-012345678", 401, 401}, /* a prefix of one */
        {"Basic cmVhZDpyZWFk", 401, 401},
        {"Bearer", 401, 401},
        {"Bearer ", 401, 401},
        {"", 401, 401},
        {"Bearer " TOKEN_READ, 200, 200},
        {"bearer " TOKEN_READ, 200, 200}, /* the scheme is case-insensitive */
        {"Bearer \t " TOKEN_READ "  ", 200, 200},
        {"Bearer " TOKEN_OPERATOR, 200, 200},
        {"Bearer " TOKEN_ADMIN, 200, 200},
        {"Bearer " TOKEN_PEER, 403, 200}, /* peers only speak section 5 */
    };
    for (int anonymous = 0; anonymous <= 1; anonymous++) {
        f->cfg.http.anonymous_read = anonymous;
        for (size_t e = 0; e < ARRAY_LEN(endpoints); e++) {
            for (size_t c = 0; c < ARRAY_LEN(callers); c++) {
                struct answer ans = get(f, endpoints[e], NULL, callers[c].authorization);
                int want = anonymous ? callers[c].open : callers[c].closed;
                if (ans.status != want)
                    fail_msg("anonymous_read=%d %s with \"%s\": want %d, got %d", anonymous,
                             endpoints[e],
                             callers[c].authorization ? callers[c].authorization : "(none)", want,
                             ans.status);
                if (want == 401)
                    assert_error(&ans, 401, "unauthorized", NULL);
                if (want == 403)
                    assert_error(&ans, 403, "forbidden", "a peer token");
                answer_clear(&ans);
            }
        }
    }
}

static void healthz_is_open_to_everyone(void **state)
{
    struct fixture *f = *state;
    const char *auths[] = {NULL, "Bearer wrong", "Bearer " TOKEN_PEER, auth_read};
    for (size_t i = 0; i < ARRAY_LEN(auths); i++) {
        struct answer ans = get(f, "/healthz", NULL, auths[i]);
        assert_int_equal(ans.status, 200);
        assert_string_equal(ans.body, "{\"ok\":true}");
        answer_clear(&ans);
    }
}

struct slow_put {
    struct fixture *f;
    atomic_int status;
};

static void *put_policy_in_thread(void *arg)
{
    struct slow_put *sp = arg;
    static const char body[] = "{\"name\": \"p1\", \"when\": \"1 > 2\"}";
    struct api_request req = {.method = "PUT",
                              .path = "/v1/policies/p1",
                              .authorization = "Bearer " TOKEN_OPERATOR,
                              .body = body,
                              .body_len = sizeof body - 1};
    struct api_response resp;
    api_handle(&sp->f->a, &req, &resp);
    atomic_store(&sp->status, resp.status);
    api_response_clear(&resp);
    return NULL;
}

/* A request keeps the config it started with for its whole length, and a
 * reload does not wait for it: with the database locked by another
 * connection, a PUT /v1/policies hangs in its store write while the
 * config is swapped; the swap returns at once, the request still holds its
 * reference to the old config, and requests after the swap see the new
 * one. */
static void swap_during_a_slow_request_neither_waits_nor_frees_its_config(void **state)
{
    struct fixture *f = *state;
    sqlite3 *blocker = NULL;
    assert_int_equal(sqlite3_open(f->db, &blocker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct slow_put sp = {.f = f, .status = 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, put_policy_in_thread, &sp), 0);
    util_sleep_ms(200, NULL);
    /* Checked after the database is let go, so a failure never leaves the
     * request thread behind. */
    int status_before_swap = atomic_load(&sp.status);
    int refs_before_swap = (int)config_refcount(&f->cfg);

    int64_t t0 = util_mono_ms();
    agent_config_swap(&f->a, config_ref(&f->cfg2));
    int64_t swap_ms = util_mono_ms() - t0;
    int status_during_swap = atomic_load(&sp.status);
    int refs_during_request = (int)config_refcount(&f->cfg);
    struct answer ans = get(f, "/v1/status", NULL, auth_read);

    assert_int_equal(sqlite3_exec(blocker, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(blocker);
    pthread_join(t, NULL);
    assert_int_equal(status_before_swap, 0); /* waiting for the database */
    assert_int_equal(refs_before_swap, 3);   /* fixture, agent, request */
    assert_true(swap_ms < 100);
    assert_int_equal(status_during_swap, 0);
    assert_int_equal(refs_during_request, 2); /* the agent let go, the request did not */
    assert_int_equal(atomic_load(&sp.status), 200);
    assert_int_equal(config_refcount(&f->cfg), 1);
    assert_int_equal(ans.status, 200);
    assert_string_equal(cJSON_GetObjectItem(ans.json, "site")->valuestring, "lulea-2");
    answer_clear(&ans);
}

/* ---- routing ---- */

static void unknown_paths_are_404_and_wrong_methods_405(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *method, *path, *auth;
        int status;
        const char *code;
    } cases[] = {
        {"GET", "/index.html", NULL, 404, "not_found"}, /* the dashboard is at / */
        {"GET", "/v1", NULL, 404, "not_found"},
        {"GET", "/v1/statusx", NULL, 404, "not_found"},
        {"GET", "/v1/telemetry/", NULL, 404, "not_found"},
        {"GET", "/v1/telemetry/a/b", NULL, 404, "not_found"},
        {"GET", "/healthz/", NULL, 404, "not_found"},
        /* The method is checked before the caller: no token needed to learn it. */
        {"POST", "/v1/status", NULL, 405, "method_not_allowed"},
        {"DELETE", "/healthz", NULL, 405, "method_not_allowed"},
        {"PUT", "/v1/telemetry/" METRIC, AUTH_READ, 405, "method_not_allowed"},
        {"OPTIONS", "/metrics", AUTH_READ, 405, "method_not_allowed"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct answer ans = call_full(f, cases[i].method, cases[i].path, NULL, cases[i].auth, 0);
        if (ans.status != cases[i].status)
            fail_msg("%s %s: want %d, got %d", cases[i].method, cases[i].path, cases[i].status,
                     ans.status);
        assert_error(&ans, cases[i].status, cases[i].code, NULL);
        answer_clear(&ans);
    }
}

static void head_is_served_where_get_is(void **state)
{
    struct fixture *f = *state;
    struct answer ans = call_full(f, "HEAD", "/v1/status", NULL, auth_read, 0);
    assert_int_equal(ans.status, 200);
    answer_clear(&ans);
    ans = call_full(f, "HEAD", "/v1/status", NULL, NULL, 0);
    assert_int_equal(ans.status, 401);
    answer_clear(&ans);
}

static void allow_lists_the_routed_methods(void **state)
{
    (void)state;
    static const struct {
        const char *path, *allow;
    } cases[] = {
        {"/healthz", "GET, HEAD"},
        {"/v1/status", "GET, HEAD"},
        {"/v1/telemetry/" METRIC, "GET, HEAD"},
        {"/nope", ""},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char buf[64];
        api_allowed_methods(cases[i].path, buf, sizeof buf);
        assert_string_equal(buf, cases[i].allow);
    }
}

static void oversized_body_is_413_before_anything_else(void **state)
{
    struct fixture *f = *state;
    const char *paths[] = {"/v1/status", "/nope", "/healthz"};
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        struct answer ans = call_full(f, "POST", paths[i], NULL, NULL, 1);
        assert_error(&ans, 413, "payload_too_large", NULL);
        answer_clear(&ans);
    }
}

/* Whether s is well-formed UTF-8 all through, as a JSON answer must be. */
static bool all_utf8(const char *s)
{
    for (size_t len = strlen(s), i = 0, n; i < len; i += n)
        if ((n = util_utf8_len(s + i, len - i)) == 0)
            return false;
    return true;
}

/* A message quoting the caller keeps the answer UTF-8: a path segment that
 * is not UTF-8 is shown with '?', and a message cut at its length limit is
 * not cut inside a character. */
static void error_answers_stay_utf8(void **state)
{
    struct fixture *f = *state;
    struct api_request req = {.method = "DELETE",
                              .path = "/v1/policies/caf\xE9",
                              .authorization = "Bearer " TOKEN_OPERATOR};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    assert_int_equal(resp.status, 404);
    if (!all_utf8(resp.body))
        fail_msg("not UTF-8: %s", resp.body);
    assert_non_null(strstr(resp.body, "\"no API-managed policy named caf?\""));
    api_response_clear(&resp);

    /* An unknown key of 200 two-byte characters, after an ASCII one or
     * not: the message passes its limit within the key, in the middle of
     * a character in one of the two. */
    for (int ascii = 0; ascii < 2; ascii++) {
        char body[600] = "{\"name\": \"p1\", \"when\": \"1 > 2\", \"";
        if (ascii)
            strcat(body, "x");
        for (int i = 0; i < 200; i++)
            strcat(body, "\xC3\xA9");
        strcat(body, "\": 1}");
        req = (struct api_request){.method = "PUT",
                                   .path = "/v1/policies/p1",
                                   .authorization = "Bearer " TOKEN_OPERATOR,
                                   .body = body,
                                   .body_len = strlen(body)};
        api_handle(&f->a, &req, &resp);
        assert_int_equal(resp.status, 400);
        if (!all_utf8(resp.body))
            fail_msg("not UTF-8: %s", resp.body);
        assert_non_null(strstr(resp.body, ascii ? "\"body: x\xC3\xA9\xC3\xA9" : "\"body: \xC3\xA9"));
        api_response_clear(&resp);
    }
}

/* ---- status and telemetry ---- */

static void status_has_real_fields_only_and_counts_collectors(void **state)
{
    struct fixture *f = *state;
    int64_t now = util_now_ms();
    f->a.started_mono_ms = util_mono_ms() - 90500;
    metrics_collector_declare(f->a.metrics, "chiller1", "modbus");
    metrics_collector_declare(f->a.metrics, "chiller2", "modbus");
    metrics_collector_declare(f->a.metrics, "ups1", "snmp");
    metrics_collector_declare(f->a.metrics, "ups2", "snmp");
    metrics_collector_report(f->a.metrics, "chiller1", true, 0.01, NULL, now);
    metrics_collector_report(f->a.metrics, "chiller2", false, 1.0, "timed out", now);
    metrics_collector_report(f->a.metrics, "ups1", true, 0.01, NULL, now);
    write_samples(f, METRIC, BASE_MS, 1000, 7);

    f->cfg.site.timezone = "Europe/Stockholm";
    struct answer ans = get(f, "/v1/status", NULL, auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.content_type, "application/json");
    const char *keys[] = {"site",     "timezone", "version",    "uptime_s", "migrations_active",
                          "capacity", "imports",  "collectors", "peers",    "store",
                          NULL};
    assert_keys(ans.json, keys);
    assert_int_equal(field(ans.json, "migrations_active")->valueint, 0);
    assert_true(cJSON_IsArray(field(ans.json, "peers")));
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "peers")), 0);
    /* No capacity expressions in this config: known to be unknown. */
    const char *capkeys[] = {"site",        "accepting", "spare_kw", "power_headroom_kw",
                             "cooling_headroom_kw", "reserved_kw", "ingress", "as_of",
                             "margin_kw",   "reason",    NULL};
    const cJSON *cap = field(ans.json, "capacity");
    assert_keys(cap, capkeys);
    assert_true(cJSON_IsFalse(field(cap, "accepting")));
    assert_int_equal(field(cap, "spare_kw")->valuedouble, 0);
    assert_true(cJSON_IsNull(field(cap, "power_headroom_kw")));
    assert_string_equal(field(cap, "reason")->valuestring,
                        "capacity.power_headroom_kw is not set");
    assert_string_equal(field(ans.json, "site")->valuestring, "lulea-1");
    assert_string_equal(field(ans.json, "timezone")->valuestring, "Europe/Stockholm");
    assert_string_equal(field(ans.json, "version")->valuestring, FLOE_VERSION);
    assert_int_equal(field(ans.json, "uptime_s")->valuedouble, 90);
    const cJSON *col = field(ans.json, "collectors");
    const char *ckeys[] = {"ok", "failing", "pending", "failing_devices", NULL};
    assert_keys(col, ckeys);
    assert_int_equal(field(col, "ok")->valueint, 2);
    assert_int_equal(field(col, "failing")->valueint, 1);
    assert_int_equal(field(col, "pending")->valueint, 1);
    /* Each failing device says why and since when; the others are not listed. */
    const cJSON *down = field(col, "failing_devices");
    assert_int_equal(cJSON_GetArraySize(down), 1);
    const cJSON *d = cJSON_GetArrayItem(down, 0);
    const char *dkeys[] = {"device", "protocol", "since", "error", NULL};
    assert_keys(d, dkeys);
    assert_string_equal(field(d, "device")->valuestring, "chiller2");
    assert_string_equal(field(d, "protocol")->valuestring, "modbus");
    char since[32];
    util_format_rfc3339(now, since, sizeof since);
    assert_string_equal(field(d, "since")->valuestring, since);
    assert_string_equal(field(d, "error")->valuestring, "timed out");
    const cJSON *st = field(ans.json, "store");
    const char *skeys[] = {"samples", "dropped", NULL};
    assert_keys(st, skeys);
    assert_int_equal(field(st, "samples")->valueint, 7);
    assert_int_equal(field(st, "dropped")->valueint, 0);
    answer_clear(&ans);
}

/* A loopback port nobody listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void status_lists_each_peer_with_its_state_and_age(void **state)
{
    struct fixture *f = *state;
    char url[2][64];
    struct cfg_peer peers[2] = {{.name = "falkenberg-1", .url = url[0], .token = "t"},
                                {.name = "oslo-2", .url = url[1], .token = "t"}};
    snprintf(url[0], sizeof url[0], "http://127.0.0.1:%d", closed_port());
    snprintf(url[1], sizeof url[1], "http://127.0.0.1:%d", closed_port());
    f->cfg.peers = peers;
    f->cfg.npeers = 2;
    f->a.peers = peer_watch_new(&f->a);
    assert_non_null(f->a.peers);

    /* before the first round: listed, nothing known */
    struct answer ans = get(f, "/v1/status", NULL, auth_read);
    const cJSON *list = field(ans.json, "peers");
    assert_int_equal(cJSON_GetArraySize(list), 2);
    const cJSON *p = cJSON_GetArrayItem(list, 0);
    const char *pkeys[] = {"name",   "state", "reachable", "accepting", "spare_kw",
                           "age_s", "checked", "error",     NULL};
    assert_keys(p, pkeys);
    assert_string_equal(field(p, "name")->valuestring, "falkenberg-1");
    assert_string_equal(field(p, "state")->valuestring, "pending");
    const char *nulls[] = {"reachable", "accepting", "spare_kw", "age_s", "checked", "error"};
    for (size_t i = 0; i < ARRAY_LEN(nulls); i++)
        assert_true(cJSON_IsNull(field(p, nulls[i])));
    answer_clear(&ans);

    /* a round five seconds ago, both down */
    int64_t asked = util_now_ms() - 5200;
    peer_watch_poll(f->a.peers, asked);
    ans = get(f, "/v1/status", NULL, auth_read);
    list = field(ans.json, "peers");
    p = cJSON_GetArrayItem(list, 1);
    assert_string_equal(field(p, "name")->valuestring, "oslo-2");
    assert_string_equal(field(p, "state")->valuestring, "unreachable");
    assert_true(cJSON_IsFalse(field(p, "reachable")));
    assert_true(cJSON_IsNull(field(p, "accepting")));
    assert_true(cJSON_IsNull(field(p, "spare_kw")));
    assert_int_equal(field(p, "age_s")->valuedouble, 5);
    char checked[32];
    util_format_rfc3339(asked, checked, sizeof checked);
    assert_string_equal(field(p, "checked")->valuestring, checked);
    char want[128];
    snprintf(want, sizeof want, "unreachable: %s/v1/capacity: ", url[1]);
    assert_int_equal(strncmp(field(p, "error")->valuestring, want, strlen(want)), 0);
    answer_clear(&ans);

    ans = get(f, "/metrics", NULL, auth_read);
    assert_non_null(strstr(ans.body, "floe_peer_up{peer=\"falkenberg-1\"} 0\n"
                                     "floe_peer_up{peer=\"oslo-2\"} 0\n"));
    assert_null(strstr(ans.body, "floe_peer_spare_kw{"));
    answer_clear(&ans);
    peer_watch_stop(f->a.peers);
    f->a.peers = NULL;
}

static const cJSON *find_metric(const cJSON *list, const char *name)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, list)
    {
        if (strcmp(field(m, "name")->valuestring, name) == 0)
            return m;
    }
    fail_msg("metric %s not listed", name);
    return NULL;
}

static void telemetry_lists_value_quality_ts_and_age(void **state)
{
    struct fixture *f = *state;
    int64_t now = util_now_ms();
    int64_t fresh_ts = now - 10000, old_ts = now - 60000;
    metrics_set_good(f->a.metrics, "it.load_kw", 412.5, "kW", "pdu1", 15000, fresh_ts);
    metrics_set_good(f->a.metrics, "room.inlet_c", 22, "C", "room1", 15000, old_ts);
    metrics_declare(f->a.metrics, "power.supply_kw", "kW", "ups1", 15000);
    metrics_set_good(f->a.metrics, "cooling.chiller2.capacity_kw", 300, "kW", "chiller2", 15000,
                     old_ts);
    metrics_set_error(f->a.metrics, "cooling.chiller2.capacity_kw", "chiller2", 15000, "timed out",
                      now);

    /* A bit of a Modbus register and a coil are on/off ("type": "bool"). */
    struct cfg_mb_point points[] = {
        {.metric = "it.load_kw", .type = MB_TYPE_FLOAT32, .bit = -1, .unit = "kW"},
        {.metric = "cooling.chiller1.running", .table = MB_TABLE_COIL, .type = MB_TYPE_BOOL,
         .bit = -1, .unit = ""},
        {.metric = "cooling.chiller1.fault", .type = MB_TYPE_BOOL, .bit = 2, .unit = ""},
    };
    struct cfg_mb_device dev = {.name = "chiller1", .points = points, .npoints = 3};
    f->cfg.modbus = &dev;
    f->cfg.nmodbus = 1;
    metrics_set_good(f->a.metrics, "cooling.chiller1.running", 1, "", "chiller1", 15000, fresh_ts);
    metrics_set_good(f->a.metrics, "cooling.chiller1.fault", 0, "", "chiller1", 15000, fresh_ts);

    struct answer ans = get(f, "/v1/telemetry", NULL, auth_read);
    f->cfg.modbus = NULL;
    f->cfg.nmodbus = 0;
    assert_int_equal(ans.status, 200);
    const char *top[] = {"metrics", NULL};
    assert_keys(ans.json, top);
    const cJSON *list = field(ans.json, "metrics");
    assert_int_equal(cJSON_GetArraySize(list), 6);
    /* Sorted by name, each with the seven fields of SPEC 4, "type" and "error". */
    const char *order[] = {"cooling.chiller1.fault", "cooling.chiller1.running",
                           "cooling.chiller2.capacity_kw", "it.load_kw", "power.supply_kw",
                           "room.inlet_c"};
    const char *types[] = {"bool", "bool", "number", "number", "number", "number"};
    const char *keys[] = {"name", "value",  "unit", "quality", "ts",
                          "age_s", "source", "type", "error", NULL};
    for (int i = 0; i < 6; i++) {
        const cJSON *m = cJSON_GetArrayItem(list, i);
        assert_keys(m, keys);
        assert_string_equal(field(m, "name")->valuestring, order[i]);
        assert_string_equal(field(m, "type")->valuestring, types[i]);
    }

    char ts[32];
    const cJSON *good = find_metric(list, "it.load_kw");
    assert_true(field(good, "value")->valuedouble == 412.5);
    assert_string_equal(field(good, "unit")->valuestring, "kW");
    assert_string_equal(field(good, "quality")->valuestring, "good");
    util_format_rfc3339(fresh_ts, ts, sizeof ts);
    assert_string_equal(field(good, "ts")->valuestring, ts);
    double age = field(good, "age_s")->valuedouble;
    assert_true(age >= 10.0 && age < 11.0);
    assert_string_equal(field(good, "source")->valuestring, "pdu1");

    const cJSON *stale = find_metric(list, "room.inlet_c");
    assert_string_equal(field(stale, "quality")->valuestring, "stale");
    assert_true(field(stale, "value")->valuedouble == 22);
    age = field(stale, "age_s")->valuedouble;
    assert_true(age >= 60.0 && age < 61.0);

    const cJSON *never = find_metric(list, "power.supply_kw");
    assert_string_equal(field(never, "quality")->valuestring, "stale");
    assert_true(cJSON_IsNull(field(never, "value")));
    assert_true(cJSON_IsNull(field(never, "ts")));
    assert_true(cJSON_IsNull(field(never, "age_s")));

    /* error keeps the last good value and its time. */
    const cJSON *err = find_metric(list, "cooling.chiller2.capacity_kw");
    assert_string_equal(field(err, "quality")->valuestring, "error");
    assert_true(field(err, "value")->valuedouble == 300);
    assert_string_equal(field(err, "error")->valuestring, "timed out");
    assert_true(cJSON_IsNull(field(good, "error")));
    assert_true(cJSON_IsNull(field(stale, "error")));
    util_format_rfc3339(old_ts, ts, sizeof ts);
    assert_string_equal(field(err, "ts")->valuestring, ts);
    answer_clear(&ans);
}

static void telemetry_of_an_empty_agent_is_an_empty_list(void **state)
{
    struct fixture *f = *state;
    struct answer ans = get(f, "/v1/telemetry", NULL, auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.body, "{\"metrics\":[]}");
    answer_clear(&ans);
}

/* ---- history ---- */

static void history_raw_returns_every_sample_in_range(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    write_samples(f, METRIC, BASE_MS, 10000, 30); /* 00:00:00 .. 00:04:50, value = index */
    struct answer ans = get(f, "/v1/telemetry/" METRIC,
                            "since=2026-01-01T00:00:10Z&until=2026-01-01T00:00:30Z", auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.body, "{\"name\":\"" METRIC "\",\"unit\":\"kW\",\"step_s\":0,"
                                  "\"points\":[[\"2026-01-01T00:00:10Z\",1],"
                                  "[\"2026-01-01T00:00:20Z\",2],[\"2026-01-01T00:00:30Z\",3]]}");
    answer_clear(&ans);
}

static void history_with_step_gives_bucket_means_in_every_step_spelling(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    write_samples(f, METRIC, BASE_MS, 10000, 30);
    const char *steps[] = {"1m", "60", "60s", "60000ms", "60.0"};
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        char query[160];
        /* since/until as Unix seconds, and as an offset time spelled with %2B. */
        snprintf(query, sizeof query, "since=%lld&until=2026-01-01T01:04:59%%2B01:00&step=%s",
                 (long long)(BASE_MS / 1000), steps[i]);
        struct answer ans = get(f, "/v1/telemetry/" METRIC, query, auth_read);
        if (ans.status != 200)
            fail_msg("step=%s: %d %s", steps[i], ans.status, ans.body);
        /* Bucket k holds samples 6k..6k+5: mean 6k + 2.5. */
        assert_string_equal(ans.body,
                            "{\"name\":\"" METRIC "\",\"unit\":\"kW\",\"step_s\":60,\"points\":["
                            "[\"2026-01-01T00:00:00Z\",2.5],[\"2026-01-01T00:01:00Z\",8.5],"
                            "[\"2026-01-01T00:02:00Z\",14.5],[\"2026-01-01T00:03:00Z\",20.5],"
                            "[\"2026-01-01T00:04:00Z\",26.5]]}");
        answer_clear(&ans);
    }
}

static void write_one(struct fixture *f, const char *metric, int64_t ts_ms, double value)
{
    struct metric_sample s = {.ts_ms = ts_ms, .value = value, .ok = true};
    util_strlcpy(s.name, metric, sizeof s.name);
    char err[256] = "";
    if (store_write_samples(f->a.store, &s, 1, err, sizeof err) != 0)
        fail_msg("store_write_samples: %s", err);
}

static void history_defaults_to_the_last_hour(void **state)
{
    struct fixture *f = *state;
    int64_t now = util_now_ms();
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    write_one(f, METRIC, now - 120 * 60000LL, 1);
    write_one(f, METRIC, now - 61 * 60000LL, 2);
    write_one(f, METRIC, now - 59 * 60000LL, 3);
    write_one(f, METRIC, now - 1 * 60000LL, 4);
    write_one(f, METRIC, now + 60 * 60000LL, 5); /* a clock ahead of ours */
    struct answer ans = get(f, "/v1/telemetry/" METRIC, NULL, auth_read);
    assert_int_equal(ans.status, 200);
    const cJSON *points = field(ans.json, "points");
    assert_int_equal(cJSON_GetArraySize(points), 2);
    assert_true(cJSON_GetArrayItem(cJSON_GetArrayItem(points, 0), 1)->valuedouble == 3);
    assert_true(cJSON_GetArrayItem(cJSON_GetArrayItem(points, 1), 1)->valuedouble == 4);
    answer_clear(&ans);
}

static void history_caps_points_by_raising_the_step(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    write_samples(f, METRIC, BASE_MS, 1000, 10050); /* one a second, value = index */

    /* Raw would be 10050 points: raised to 2 s buckets, means of (2k, 2k+1). */
    struct answer ans = get(f, "/v1/telemetry/" METRIC,
                            "since=2026-01-01T00:00:00Z&until=2026-01-01T02:47:29Z", auth_read);
    assert_int_equal(ans.status, 200);
    assert_true(field(ans.json, "step_s")->valuedouble == 2);
    const cJSON *points = field(ans.json, "points");
    assert_int_equal(cJSON_GetArraySize(points), 5025);
    const cJSON *first = cJSON_GetArrayItem(points, 0);
    assert_string_equal(cJSON_GetArrayItem(first, 0)->valuestring, "2026-01-01T00:00:00Z");
    assert_true(cJSON_GetArrayItem(first, 1)->valuedouble == 0.5);
    answer_clear(&ans);

    /* step=1s over a day is 86401 buckets: raised to 9 s (9601 buckets). */
    ans = get(f, "/v1/telemetry/" METRIC,
              "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&step=1s", auth_read);
    assert_int_equal(ans.status, 200);
    assert_true(field(ans.json, "step_s")->valuedouble == 9);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "points")), 1117); /* 10050 s / 9 s */
    answer_clear(&ans);

    /* Within the cap the asked step stands. */
    ans = get(f, "/v1/telemetry/" METRIC,
              "since=2026-01-01T00:00:00Z&until=2026-01-01T02:47:29Z&step=5s", auth_read);
    assert_true(field(ans.json, "step_s")->valuedouble == 5);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "points")), 2010);
    answer_clear(&ans);
}

static void history_rejects_bad_parameters_naming_them(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    static const struct {
        const char *query, *names;
    } cases[] = {
        {"since=yesterday", "since:"},
        {"since=", "since:"},
        {"since=%zz", "since:"},
        {"since=2026-13-01T00:00:00Z", "since:"},
        {"until=abc", "until:"},
        {"until=2026-01-01T00:00:00", "until:"}, /* no zone */
        {"step=fast", "step:"},
        {"step=-1", "step:"},
        {"step=-1s", "step:"},
        {"step=", "step:"},
        {"step=1y", "step:"},
        {"step=.", "step:"},
        {"step=1m%00x", "step:"}, /* no NUL smuggled past the parser */
        {"since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "since:"},
        {"since=2026-02-30T00:00:00Z", "since:"}, /* not turned into 2 March */
        {"since=2026-01-01T00:00:00%2B24:00", "since:"},
        {"since=%201767225600", "since:"}, /* no blank before Unix seconds */
        {"until=1e9", "until:"},
        {"until=0x10", "until:"},
        {"until=1767225600.", "until:"},
        {"step=0x10", "step:"},
        {"step=1e3ms", "step:"},
        {"step=%2B1m", "step:"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct answer ans = get(f, "/v1/telemetry/" METRIC, cases[i].query, auth_read);
        if (ans.status != 400)
            fail_msg("%s: want 400, got %d", cases[i].query, ans.status);
        assert_error(&ans, 400, "bad_request", cases[i].names);
        answer_clear(&ans);
    }
}

static void query_param_decodes_the_first_occurrence_and_refuses_bad_escapes(void **unused)
{
    (void)unused;
    static const struct {
        const char *query, *key;
        int found;
        const char *value;
    } cases[] = {
        {"since=1&until=2", "until", 1, "2"},
        {"since=1&until=2", "step", 0, NULL},
        {"", "since", 0, NULL},
        {NULL, "since", 0, NULL},
        {"since=1&since=2", "since", 1, "1"}, /* the first wins */
        {"since", "since", 1, ""},            /* a key alone has an empty value */
        {"since=", "since", 1, ""},
        {"sincex=1&since=2", "since", 1, "2"},
        {"&&since=3&", "since", 1, "3"},
        {"since=a=b", "since", 1, "a=b"},
        {"since=2026-01-01T00:00:00%2B01:00", "since", 1, "2026-01-01T00:00:00+01:00"},
        {"since=2026-01-01T00:00:00+01:00", "since", 1, "2026-01-01T00:00:00+01:00"}, /* '+' stays */
        {"since=%7e%7E", "since", 1, "~~"},
        {"%73ince=4", "since", 1, "4"},         /* the key is decoded too */
        {"since=%zz", "since", -1, NULL},
        {"since=%4", "since", -1, NULL},        /* escape cut short */
        {"since=%", "since", -1, NULL},
        {"since=1%00x", "since", -1, NULL},     /* no NUL smuggled in */
        {"%zz=1&since=5", "since", 1, "5"},     /* a key that does not decode is not ours */
        /* The buffer below holds 31 characters and the NUL. */
        {"since=0123456789012345678901234567890", "since", 1, "0123456789012345678901234567890"},
        {"since=01234567890123456789012345678901", "since", -1, NULL},
        {"since=012345678901234567890123456789%41", "since", 1, "012345678901234567890123456789A"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[32] = "unset";
        int got = api_query_param(cases[i].query, cases[i].key, out, sizeof out);
        if (got != cases[i].found)
            fail_msg("%s: %d, want %d", cases[i].query ? cases[i].query : "(null)", got,
                     cases[i].found);
        if (cases[i].value)
            assert_string_equal(out, cases[i].value);
    }
    char none[1] = "";
    assert_int_equal(api_query_param("since=", "since", none, 0), -1);
}

static void history_ignores_parameters_it_does_not_know(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, METRIC, "kW", "chiller1", 15000);
    struct answer ans = get(f, "/v1/telemetry/" METRIC, "_=1700000000&x&step=1m", auth_read);
    assert_int_equal(ans.status, 200);
    assert_true(field(ans.json, "step_s")->valuedouble == 60);
    answer_clear(&ans);
}

static void history_404_only_for_a_metric_neither_live_nor_stored(void **state)
{
    struct fixture *f = *state;
    metrics_declare(f->a.metrics, "it.load_kw", "kW", "pdu1", 15000);
    write_samples(f, "power.retired_kw", BASE_MS, 1000, 3); /* no longer configured */

    struct answer ans = get(f, "/v1/telemetry/nosuch.metric", NULL, auth_read);
    assert_error(&ans, 404, "not_found", "no metric named nosuch.metric");
    answer_clear(&ans);
    ans = get(f, "/v1/telemetry/Not-A-Name", NULL, auth_read);
    assert_error(&ans, 404, "not_found", NULL);
    answer_clear(&ans);

    /* Known live, nothing stored in the window: 200, empty. */
    ans = get(f, "/v1/telemetry/it.load_kw", NULL, auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.body,
                        "{\"name\":\"it.load_kw\",\"unit\":\"kW\",\"step_s\":0,\"points\":[]}");
    answer_clear(&ans);

    /* Stored only, outside the default window: 200 (empty), unit unknown. */
    ans = get(f, "/v1/telemetry/power.retired_kw", NULL, auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.body,
                        "{\"name\":\"power.retired_kw\",\"unit\":\"\",\"step_s\":0,\"points\":[]}");
    answer_clear(&ans);
    ans = get(f, "/v1/telemetry/power.retired_kw", "since=1767225600&until=1767225602", auth_read);
    assert_int_equal(cJSON_GetArraySize(field(ans.json, "points")), 3);
    answer_clear(&ans);
}

/* ---- /metrics ---- */

static void prometheus_page_is_served_with_its_content_type(void **state)
{
    struct fixture *f = *state;
    int64_t now = util_now_ms();
    metrics_set_good(f->a.metrics, METRIC, 512.25, "kW", "chiller1", 15000, now);
    metrics_collector_declare(f->a.metrics, "chiller1", "modbus");
    metrics_collector_report(f->a.metrics, "chiller1", true, 0.02, NULL, now);
    struct answer ans = get(f, "/metrics", NULL, auth_read);
    assert_int_equal(ans.status, 200);
    assert_string_equal(ans.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(ans.body, "floe_metric_value{metric=\"" METRIC
                                     "\",unit=\"kW\",source=\"chiller1\"} 512.25\n"));
    assert_non_null(strstr(ans.body, "floe_metric_quality{metric=\"" METRIC "\"} 1\n"));
    assert_non_null(
        strstr(ans.body, "floe_collector_up{device=\"chiller1\",protocol=\"modbus\"} 1\n"));
    assert_non_null(strstr(
        ans.body, "floe_poll_duration_seconds_bucket{device=\"chiller1\",le=\"0.025\"} 1\n"));
    answer_clear(&ans);
}

/* The samples of every counter family on a Prometheus page ("name{labels}"
 * and value), in page order. */
struct counter_samples {
    char series[32][160];
    double value[32];
    size_t n;
};

static void counters_of(const char *page, struct counter_samples *out)
{
    char counters[16][64];
    size_t ncounters = 0;
    memset(out, 0, sizeof *out);
    for (const char *line = page; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        char text[256];
        assert_true(len < sizeof text);
        memcpy(text, line, len);
        text[len] = '\0';
        char family[64], type[16];
        if (sscanf(text, "# TYPE %63s %15s", family, type) == 2 && strcmp(type, "counter") == 0) {
            assert_true(ncounters < ARRAY_LEN(counters));
            strcpy(counters[ncounters++], family);
        } else if (text[0] != '#' && text[0]) {
            char *space = strrchr(text, ' ');
            assert_non_null(space);
            *space = '\0';
            size_t name_len = strcspn(text, "{");
            for (size_t i = 0; i < ncounters; i++) {
                if (strlen(counters[i]) != name_len || strncmp(text, counters[i], name_len) != 0)
                    continue;
                assert_true(out->n < ARRAY_LEN(out->series));
                util_strlcpy(out->series[out->n], text, sizeof out->series[0]);
                out->value[out->n++] = strtod(space + 1, NULL);
            }
        }
        line += len + (eol ? 1 : 0);
    }
}

static double counter_value(const struct counter_samples *c, const char *series)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->series[i], series) == 0)
            return c->value[i];
    return NAN;
}

static void store_awaiting_decision(struct fixture *f, int64_t *id)
{
    struct decision d;
    decision_init(&d);
    d.ts_ms = BASE_MS;
    d.kind = POL_ACTION_SHED;
    decision_set_policy(&d, "cooling-shortfall");
    decision_classify(&d, &(struct decision_facts){.mode = POL_MODE_APPROVE, .kw = 80});
    assert_int_equal(d.status, DECISION_AWAITING_APPROVAL);
    char *body = decision_to_text(&d);
    char err[256] = "";
    if (store_decision_add(f->a.store, d.ts_ms, d.policy, "shed", "awaiting-approval", body, NULL,
                           id, err, sizeof err) != 0)
        fail_msg("store_decision_add: %s", err);
    free(body);
    decision_clear(&d);
}

/* An approved rebalance is carried out by the rebalancer at approval:
 * one approved after its schedule window closed moves nothing. */
static void an_approved_rebalance_after_its_window_moves_nothing(void **state)
{
    struct fixture *f = *state;
    struct decision d;
    decision_init(&d);
    d.ts_ms = BASE_MS;
    d.kind = POL_ACTION_REBALANCE;
    d.rebalance.max_migrations = 2;
    d.rebalance.window_start_ms = BASE_MS - 3600000;
    d.rebalance.window_end_ms = BASE_MS + 60000; /* long gone at the approval */
    decision_set_policy(&d, "overnight-rebalance");
    decision_classify(&d, &(struct decision_facts){.mode = POL_MODE_APPROVE, .kw = NAN});
    assert_int_equal(d.status, DECISION_AWAITING_APPROVAL);
    char *body = decision_to_text(&d);
    char err[256] = "";
    int64_t id;
    if (store_decision_add(f->a.store, d.ts_ms, d.policy, "rebalance", "awaiting-approval", body,
                           NULL, &id, err, sizeof err) != 0)
        fail_msg("store_decision_add: %s", err);
    free(body);
    decision_clear(&d);
    char path[64];
    snprintf(path, sizeof path, "/v1/decisions/%lld/approve", (long long)id);
    struct answer ans = call_full(f, "POST", path, NULL, "Bearer " TOKEN_OPERATOR, 0);
    if (ans.status != 200)
        fail_msg("approve: %d %s", ans.status, ans.body);
    assert_non_null(strstr(ans.body, "\"status\":\"no-placement\""));
    assert_non_null(strstr(ans.body, "\"approved by "));
    assert_non_null(strstr(ans.body, "nothing moved: its schedule window closed at "));
    answer_clear(&ans);
}

/* A Prometheus counter must never go down: an approve moves a decision
 * from awaiting-approval to the status auto mode gives it, and the count
 * of decisions that were ever awaiting approval stays what it was. The
 * decisions now in each status are a gauge of their own. */
static void prometheus_counters_never_decrease_when_a_decision_is_approved(void **state)
{
    struct fixture *f = *state;
    int64_t id;
    store_awaiting_decision(f, &id);
    struct answer before = get(f, "/metrics", NULL, auth_read);
    assert_int_equal(before.status, 200);
    struct counter_samples c0, c1;
    counters_of(before.body, &c0);
    assert_true(counter_value(&c0, "floe_decisions_total{kind=\"shed\",status=\"awaiting-approval\"}") == 1);
    assert_non_null(strstr(before.body, "# TYPE floe_decisions_in_status gauge\n"
                                        "floe_decisions_in_status{kind=\"shed\",status=\"awaiting-approval\"} 1\n"));

    char path[64];
    snprintf(path, sizeof path, "/v1/decisions/%lld/approve", (long long)id);
    struct answer ans = call_full(f, "POST", path, NULL, "Bearer " TOKEN_OPERATOR, 0);
    if (ans.status != 200)
        fail_msg("approve: %d %s", ans.status, ans.body);
    answer_clear(&ans);

    struct answer after = get(f, "/metrics", NULL, auth_read);
    assert_int_equal(after.status, 200);
    counters_of(after.body, &c1);
    for (size_t i = 0; i < c0.n; i++) {
        double v = counter_value(&c1, c0.series[i]);
        if (!(v >= c0.value[i]))
            fail_msg("counter %s went from %g to %g after an approve", c0.series[i], c0.value[i], v);
    }
    assert_true(counter_value(&c1, "floe_decisions_total{kind=\"shed\",status=\"awaiting-approval\"}") == 1);
    assert_true(counter_value(&c1, "floe_decisions_total{kind=\"shed\",status=\"no-placement\"}") == 1);
    assert_non_null(strstr(after.body, "floe_decisions_in_status{kind=\"shed\",status=\"awaiting-approval\"} 0\n"
                                       "floe_decisions_in_status{kind=\"shed\",status=\"no-placement\"} 1\n"));
    answer_clear(&before);
    answer_clear(&after);
}

static void prometheus_render_is_exact(void **state)
{
    (void)state;
    struct metric_snapshot ms[3];
    memset(ms, 0, sizeof ms);
    util_strlcpy(ms[0].name, "a.b", sizeof ms[0].name);
    util_strlcpy(ms[0].unit, "kW", sizeof ms[0].unit);
    util_strlcpy(ms[0].source, "dev", sizeof ms[0].source);
    ms[0].value = 0.1;
    ms[0].quality = MQ_GOOD;
    util_strlcpy(ms[1].name, "a.c", sizeof ms[1].name);
    ms[1].value = NAN; /* never sampled: no value line */
    ms[1].quality = MQ_STALE;
    util_strlcpy(ms[2].name, "a.d", sizeof ms[2].name);
    util_strlcpy(ms[2].source, "dev", sizeof ms[2].source);
    ms[2].value = -1e300;
    ms[2].quality = MQ_ERROR;
    struct collector_snapshot cs;
    memset(&cs, 0, sizeof cs);
    util_strlcpy(cs.device, "dev", sizeof cs.device);
    util_strlcpy(cs.protocol, "modbus", sizeof cs.protocol);
    cs.polled = true;
    cs.up = false;
    cs.polls = 3;
    cs.failures = 1;
    for (size_t k = 0; k < METRICS_POLL_BUCKETS; k++)
        cs.bucket_counts[k] = k < 6 ? 1 : 2;
    cs.duration_count = 3;
    cs.duration_sum_s = 6.75;
    size_t len = 0;
    char *text = api_prom_render(ms, 3, &cs, 1, 42, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    assert_string_equal(
        text,
        "# HELP floe_metric_value Last good value of a facility metric (absent until its first "
        "good sample).\n"
        "# TYPE floe_metric_value gauge\n"
        "floe_metric_value{metric=\"a.b\",unit=\"kW\",source=\"dev\"} 0.1\n"
        "floe_metric_value{metric=\"a.d\",unit=\"\",source=\"dev\"} -1e+300\n"
        "# HELP floe_metric_quality 1 when the metric's quality is good, 0 when stale or error.\n"
        "# TYPE floe_metric_quality gauge\n"
        "floe_metric_quality{metric=\"a.b\"} 1\n"
        "floe_metric_quality{metric=\"a.c\"} 0\n"
        "floe_metric_quality{metric=\"a.d\"} 0\n"
        "# HELP floe_collector_up 1 when the device's last poll succeeded, 0 when it failed or "
        "none finished yet.\n"
        "# TYPE floe_collector_up gauge\n"
        "floe_collector_up{device=\"dev\",protocol=\"modbus\"} 0\n"
        "# HELP floe_collector_polls_total Polls of the device finished since the agent started.\n"
        "# TYPE floe_collector_polls_total counter\n"
        "floe_collector_polls_total{device=\"dev\"} 3\n"
        "# HELP floe_collector_poll_failures_total Polls of the device that failed since the "
        "agent started.\n"
        "# TYPE floe_collector_poll_failures_total counter\n"
        "floe_collector_poll_failures_total{device=\"dev\"} 1\n"
        "# HELP floe_poll_duration_seconds Duration of one poll of a device.\n"
        "# TYPE floe_poll_duration_seconds histogram\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.005\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.01\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.025\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.05\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.1\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.25\"} 1\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"0.5\"} 2\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"1\"} 2\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"2.5\"} 2\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"5\"} 2\n"
        "floe_poll_duration_seconds_bucket{device=\"dev\",le=\"+Inf\"} 3\n"
        "floe_poll_duration_seconds_sum{device=\"dev\"} 6.75\n"
        "floe_poll_duration_seconds_count{device=\"dev\"} 3\n"
        "# HELP floe_samples_dropped_total Samples lost because the store fell behind the "
        "collectors.\n"
        "# TYPE floe_samples_dropped_total counter\n"
        "floe_samples_dropped_total 42\n");
    free(text);
}

static void prometheus_peer_families_are_exact(void **state)
{
    (void)state;
    struct peer_status ps[4];
    memset(ps, 0, sizeof ps);
    util_strlcpy(ps[0].name, "falkenberg-1", sizeof ps[0].name);
    ps[0].polled = true;
    ps[0].last.state = PEER_OK;
    ps[0].last.cap.spare_kw = 120.5;
    util_strlcpy(ps[1].name, "oslo-2", sizeof ps[1].name);
    ps[1].polled = true;
    ps[1].last.state = PEER_GARBAGE;
    ps[1].last.cap.spare_kw = 999; /* not from a usable answer: never shown */
    util_strlcpy(ps[2].name, "bergen-3", sizeof ps[2].name); /* not asked yet */
    util_strlcpy(ps[3].name, "umea-4", sizeof ps[3].name);
    ps[3].polled = true;
    ps[3].last.state = PEER_OK; /* up, spare 0 */
    char *text = api_prom_peers(ps, 4);
    assert_non_null(text);
    assert_string_equal(text,
                        "# HELP floe_peer_up 1 when the peer's latest capacity answer was usable, "
                        "0 when it was not (unreachable, refused, garbage) or none came yet.\n"
                        "# TYPE floe_peer_up gauge\n"
                        "floe_peer_up{peer=\"falkenberg-1\"} 1\n"
                        "floe_peer_up{peer=\"oslo-2\"} 0\n"
                        "floe_peer_up{peer=\"bergen-3\"} 0\n"
                        "floe_peer_up{peer=\"umea-4\"} 1\n"
                        "# HELP floe_peer_spare_kw Spare kW the peer reported in its latest "
                        "capacity answer (only while it is up).\n"
                        "# TYPE floe_peer_spare_kw gauge\n"
                        "floe_peer_spare_kw{peer=\"falkenberg-1\"} 120.5\n"
                        "floe_peer_spare_kw{peer=\"umea-4\"} 0\n");
    free(text);
    text = api_prom_peers(NULL, 0);
    assert_non_null(strstr(text, "# TYPE floe_peer_spare_kw gauge\n"));
    free(text);
}

static void prometheus_label_values_are_escaped(void **state)
{
    (void)state;
    static const struct {
        const char *source, *escaped;
    } cases[] = {
        {"plain", "\"plain\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"C:\\dev", "\"C:\\\\dev\""},
        {"two\nlines", "\"two\\nlines\""},
        {"\\\"\n", "\"\\\\\\\"\\n\""},
        {"", "\"\""},
        {"\xc2\xb0"
         "C",
         "\"\xc2\xb0"
         "C\""}, /* UTF-8 passes through */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct metric_snapshot m;
        memset(&m, 0, sizeof m);
        util_strlcpy(m.name, "x", sizeof m.name);
        util_strlcpy(m.source, cases[i].source, sizeof m.source);
        m.value = 1;
        size_t len;
        char *text = api_prom_render(&m, 1, NULL, 0, 0, &len);
        assert_non_null(text);
        char want[128];
        snprintf(want, sizeof want, "floe_metric_value{metric=\"x\",unit=\"\",source=%s} 1\n",
                 cases[i].escaped);
        if (!strstr(text, want))
            fail_msg("case %zu: %s not in output", i, want);
        free(text);
    }
}

static void prometheus_values_round_trip(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0"},
        {21.25, "21.25"},
        {0.1, "0.1"},
        {1.0 / 3.0, "0.33333333333333331"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {123456789012345678.0, "1.2345678901234568e+17"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct metric_snapshot m;
        memset(&m, 0, sizeof m);
        util_strlcpy(m.name, "x", sizeof m.name);
        m.value = cases[i].v;
        size_t len;
        char *text = api_prom_render(&m, 1, NULL, 0, 0, &len);
        char want[128];
        snprintf(want, sizeof want, "floe_metric_value{metric=\"x\",unit=\"\",source=\"\"} %s\n",
                 cases[i].text);
        if (!strstr(text, want))
            fail_msg("%s not in output", want);
        free(text);
    }
}

/* ---- api_start ---- */

static void api_start_refuses_bad_listen_addresses(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *listen, *message;
    } cases[] = {
        {"", "empty listen address"},
        {"localhost", "localhost: expected host:port"},
        {":8470", ":8470: expected host:port"},
        {"::1:8470", "::1:8470: an IPv6 address needs brackets: [address]:port"},
        {"[::1]8470", "[::1]8470: expected [IPv6 address]:port"},
        {"[]:8470", "[]:8470: bad address between [ ]"},
        {"127.0.0.1:", "127.0.0.1:: port must be a number 0..65535"},
        {"127.0.0.1:65536", "127.0.0.1:65536: port must be a number 0..65535"},
        {"127.0.0.1:http", "127.0.0.1:http: port must be a number 0..65535"},
        {"127.0.0.1:-1", "127.0.0.1:-1: port must be a number 0..65535"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char err[256] = "";
        struct api_server *srv = api_start(&f->a, cases[i].listen, err, sizeof err);
        assert_null(srv);
        assert_string_equal(err, cases[i].message);
    }
}

static void api_start_serves_on_loopback_and_stops(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct api_server *srv = api_start(&f->a, "127.0.0.1:0", err, sizeof err);
    if (!srv)
        fail_msg("api_start: %s", err);
    api_stop(srv);
    api_stop(NULL);
}

static void api_start_reports_unreadable_tls_files(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    f->cfg.http.tls_cert_file = "/nonexistent/cert.pem";
    assert_null(api_start(&f->a, "127.0.0.1:0", err, sizeof err));
    assert_string_equal(err, "http.tls needs both cert_file and key_file");
    f->cfg.http.tls_key_file = "/nonexistent/key.pem";
    assert_null(api_start(&f->a, "127.0.0.1:0", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    f->cfg.http.tls_cert_file = NULL;
    f->cfg.http.tls_key_file = NULL;
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(auth_matrix_per_endpoint_role_and_anonymous_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(healthz_is_open_to_everyone, setup, teardown),
        cmocka_unit_test_setup_teardown(
            swap_during_a_slow_request_neither_waits_nor_frees_its_config, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_paths_are_404_and_wrong_methods_405, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(head_is_served_where_get_is, setup, teardown),
        cmocka_unit_test(allow_lists_the_routed_methods),
        cmocka_unit_test_setup_teardown(oversized_body_is_413_before_anything_else, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(error_answers_stay_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(status_lists_each_peer_with_its_state_and_age, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(status_has_real_fields_only_and_counts_collectors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(telemetry_lists_value_quality_ts_and_age, setup, teardown),
        cmocka_unit_test_setup_teardown(telemetry_of_an_empty_agent_is_an_empty_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(history_raw_returns_every_sample_in_range, setup, teardown),
        cmocka_unit_test_setup_teardown(history_with_step_gives_bucket_means_in_every_step_spelling,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(history_defaults_to_the_last_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(history_caps_points_by_raising_the_step, setup, teardown),
        cmocka_unit_test_setup_teardown(history_rejects_bad_parameters_naming_them, setup,
                                        teardown),
        cmocka_unit_test(query_param_decodes_the_first_occurrence_and_refuses_bad_escapes),
        cmocka_unit_test_setup_teardown(history_ignores_parameters_it_does_not_know, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(history_404_only_for_a_metric_neither_live_nor_stored,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(prometheus_page_is_served_with_its_content_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            prometheus_counters_never_decrease_when_a_decision_is_approved, setup, teardown),
        cmocka_unit_test_setup_teardown(an_approved_rebalance_after_its_window_moves_nothing, setup,
                                        teardown),
        cmocka_unit_test(prometheus_render_is_exact),
        cmocka_unit_test(prometheus_peer_families_are_exact),
        cmocka_unit_test(prometheus_label_values_are_escaped),
        cmocka_unit_test(prometheus_values_round_trip),
        cmocka_unit_test_setup_teardown(api_start_refuses_bad_listen_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(api_start_serves_on_loopback_and_stops, setup, teardown),
        cmocka_unit_test_setup_teardown(api_start_reports_unreadable_tls_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
