/*
 * test_api_imports — POST/GET/DELETE /v1/imports and GET /v1/imports
 * through api_handle() (no sockets, no importer thread): roles, every bad
 * body answered 400 naming its field, every refusal 409 with its reason
 * (no Kubernetes here, reservation unknown, another's, released, expired,
 * for another workload, namespace busy, backup another's), 202 with the
 * new id and the reservation confirmed, 200 with the same id when asked
 * again, GET's shape, a peer seeing only its own imports, DELETE ending
 * the import and releasing the reservation (twice: the same answer),
 * /v1/status's imports and /metrics' floe_imports_total.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "lib/log.h"
#include "lib/util.h"
#include "store/store_import.h"
#include "store/store_resv.h"

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"
#define TOKEN_ADMIN "admin-token-0123456789"
#define TOKEN_PEER "peer-token-0123456789"
#define TOKEN_PEER2 "peer2-token-0123456789"
#define AUTH_READ "Bearer " TOKEN_READ
#define AUTH_OPERATOR "Bearer " TOKEN_OPERATOR
#define AUTH_ADMIN "Bearer " TOKEN_ADMIN
#define AUTH_PEER "Bearer " TOKEN_PEER
#define AUTH_PEER2 "Bearer " TOKEN_PEER2
#define PEER "falkenberg-1"
#define PEER2 "oslo-2"

struct fixture {
    char dir[64];
    char db[96];
    struct cfg_token tokens[5];
    struct floe_config cfg;
    struct agent a;
    char rid[STORE_RESV_ID_SIZE];  /* granted to PEER for workload shop */
    char rid2[STORE_RESV_ID_SIZE]; /* granted to PEER2 for workload crm */
};

static void grant(struct fixture *f, const char *to, const char *workload, int64_t now,
                  int64_t ttl_ms, char id[STORE_RESV_ID_SIZE])
{
    struct store_resv_request req = {
        .from_site = to, .workload = workload, .granted_by = to, .kw = 10, .ttl_ms = ttl_ms};
    struct store_resv r;
    char err[256] = "";
    if (store_resv_grant(f->a.store, &req, 1000, now, &r, NULL, err, sizeof err) != 0)
        fail_msg("grant: %s", err);
    memcpy(id, r.id, STORE_RESV_ID_SIZE);
    store_resv_clear(&r);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-imports.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    f->tokens[2] = (struct cfg_token){"root", ROLE_ADMIN, TOKEN_ADMIN};
    f->tokens[3] = (struct cfg_token){PEER, ROLE_PEER, TOKEN_PEER};
    f->tokens[4] = (struct cfg_token){PEER2, ROLE_PEER, TOKEN_PEER2};
    f->cfg.site.name = "lulea-1";
    f->cfg.http.tokens = f->tokens;
    f->cfg.http.ntokens = 5;
    f->cfg.workloads.source = "kubernetes";
    f->cfg.workloads.k8s_api = "https://127.0.0.1:1";
    f->cfg.workloads.k8s_token = "t";
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->a.metrics = metrics_new(1000);
    assert_non_null(f->a.metrics);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.started_ms = util_now_ms();
    f->a.started_mono_ms = util_mono_ms();
    grant(f, PEER, "shop", util_now_ms(), 600000, f->rid);
    grant(f, PEER2, "crm", util_now_ms(), 600000, f->rid2);
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
                          const char *authorization, const char *body)
{
    struct api_request req = {.method = method,
                              .path = path,
                              .authorization = authorization,
                              .body = body,
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

static const cJSON *field(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        fail_msg("no field %s", key);
    return v;
}

static const char *text(const cJSON *obj, const char *key)
{
    const cJSON *v = field(obj, key);
    if (!cJSON_IsString(v))
        fail_msg("%s is not a string", key);
    return v->valuestring;
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

/* Expects status with code and an error equal to msg. */
static void expect(struct answer ans, int status, const char *code, const char *msg)
{
    if (ans.status != status)
        fail_msg("expected %d (%s), got %d: %s", status, msg, ans.status, ans.body);
    assert_string_equal(text(ans.json, "code"), code);
    if (strcmp(text(ans.json, "error"), msg) != 0)
        fail_msg("error \"%s\", want \"%s\"", text(ans.json, "error"), msg);
    answer_clear(&ans);
}

/* A good body for reservation rid, with extra inserted before replicas. */
static void body_of(char *out, size_t n, const char *rid, const char *workload, const char *ns,
                    const char *backup, const char *extra)
{
    snprintf(out, n,
             "{\"reservation\": \"%s\", \"workload\": \"%s\", \"namespace\": \"%s\","
             " \"backup\": \"%s\", \"stateless\": false, %s"
             " \"replicas\": {\"deployment/web\": 3, \"statefulset/db\": 1}}",
             rid, workload, ns, backup, extra ? extra : "");
}

static struct answer post(struct fixture *f, const char *auth, const char *body)
{
    return call(f, "POST", "/v1/imports", auth, body);
}

/* POSTs the good body for rid; returns the new id (fails unless 202). */
static void started(struct fixture *f, const char *auth, const char *rid, const char *workload,
                    const char *backup, char *id, size_t idlen)
{
    char body[600];
    body_of(body, sizeof body, rid, workload, workload, backup, NULL);
    struct answer ans = post(f, auth, body);
    if (ans.status != 202)
        fail_msg("POST: %d %s", ans.status, ans.body);
    const char *keys[] = {"id", "phase", NULL};
    assert_keys(ans.json, keys);
    assert_string_equal(text(ans.json, "phase"), "waiting-backup");
    util_strlcpy(id, text(ans.json, "id"), idlen);
    answer_clear(&ans);
}

/* ---- roles ---- */

static void only_peers_and_admins_may_import(void **state)
{
    struct fixture *f = *state;
    char body[600];
    body_of(body, sizeof body, f->rid, "shop", "shop", "b1", NULL);
    expect(post(f, NULL, body), 401, "unauthorized",
           "a bearer token is required (Authorization: Bearer TOKEN)");
    expect(post(f, AUTH_READ, body), 403, "forbidden", "this endpoint is for peers and admins");
    expect(post(f, AUTH_OPERATOR, body), 403, "forbidden", "this endpoint is for peers and admins");
    expect(call(f, "GET", "/v1/imports/1", AUTH_READ, NULL), 403, "forbidden",
           "this endpoint is for peers and admins");
    expect(call(f, "DELETE", "/v1/imports/1", AUTH_OPERATOR, NULL), 403, "forbidden",
           "this endpoint is for peers and admins");
    expect(call(f, "PUT", "/v1/imports/1", AUTH_ADMIN, "{}"), 405, "method_not_allowed",
           "method PUT not allowed here (allowed: GET, HEAD, DELETE)");
    char id[32];
    started(f, AUTH_ADMIN, f->rid, "shop", "b1", id, sizeof id);
}

/* ---- 400 ---- */

struct bad_body {
    const char *body;
    const char *error;
};

static void every_bad_body_is_400_naming_its_field(void **state)
{
    struct fixture *f = *state;
    char long_name[80], long_ns[80];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    memset(long_ns, 'a', 64);
    long_ns[64] = '\0';
    char many[4096] = "{";
    for (int i = 0; i <= 64; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s\"deployment/w%d\": 1",
                 i ? ", " : "", i);
    strcat(many, "}");

    const char *R = f->rid;
    static char b[40][5200];
    const struct bad_body cases[] = {
        {"", "body: a JSON object {\"reservation\", \"workload\", \"namespace\", \"backup\", "
             "\"stateless\", \"replicas\"} is required"},
        {"{\"reservation\": ", NULL},
        {"[1, 2]", "body: must be a JSON object"},
        {b[0], "reservation: required"},
        {b[1], "reservation: must be a reservation id (a string of 1 to 64 letters, digits, '_', "
               "'-' or '.')"},
        {b[2], "workload: must be a string of 1 to 64 letters, digits, '_', '-' or '.'"},
        {b[3], "namespace: must be a namespace name (a DNS-1123 label: a-z, 0-9 and '-', at most "
               "63, starting and ending with a letter or digit)"},
        {b[4], "namespace: must be a namespace name (a DNS-1123 label: a-z, 0-9 and '-', at most "
               "63, starting and ending with a letter or digit)"},
        {b[5], "backup: must be a Velero Backup's name (a-z, 0-9, '-' and '.', at most 63, "
               "starting and ending with a letter or digit)"},
        {b[6], "backup: required"},
        {b[7], "stateless: must be true or false"},
        {b[8], "stateless: required"},
        {b[9], "replicas: required"},
        {b[10], "replicas: must be an object {\"deployment/NAME\": N, \"statefulset/NAME\": N}"},
        {b[11], "replicas.pod/web: keys must be deployment/NAME or statefulset/NAME (NAME a "
                "Kubernetes object name)"},
        {b[12], "replicas.deployment/Web: keys must be deployment/NAME or statefulset/NAME (NAME "
                "a Kubernetes object name)"},
        {b[13], "replicas.deployment/web: must be a whole number from 0 to 10000"},
        {b[14], "replicas.deployment/web: must be a whole number from 0 to 10000"},
        {b[15], "replicas.deployment/web: must be a whole number from 0 to 10000"},
        {b[16], "replicas.deployment/web: must be a whole number from 0 to 10000"},
        {b[17], "replicas.deployment/web: given twice"},
        {b[18], "replicas: at most 64 objects"},
        {b[19], "incremental: must be true or false"},
        {b[20], "prestage: must be true or false"},
        {b[21], "prestage: cannot be combined with incremental"},
        {b[22], "backup: given twice"},
        {b[23], "namespace: must be a namespace name (a DNS-1123 label: a-z, 0-9 and '-', at most "
                "63, starting and ending with a letter or digit)"},
        {b[24], "replicas.deployment/: keys must be deployment/NAME or statefulset/NAME (NAME a "
                "Kubernetes object name)"},
        {b[25], "home: must be a site name (a string of 1 to 64 letters, digits, '_', '-' or "
                "'.')"},
        {b[26], "home: must be a site name (a string of 1 to 64 letters, digits, '_', '-' or "
                "'.')"},
        {b[27], "home: given twice"},
    };
    const char *tail = "\"stateless\": false, \"replicas\": {\"deployment/web\": 3}}";
    snprintf(b[0], sizeof b[0],
             "{\"workload\": \"shop\", \"namespace\": \"shop\", \"backup\": \"b\", %s", tail);
    snprintf(b[1], sizeof b[1],
             "{\"reservation\": 7, \"workload\": \"shop\", \"namespace\": \"shop\", \"backup\": "
             "\"b\", %s",
             tail);
    snprintf(b[2], sizeof b[2],
             "{\"reservation\": \"%s\", \"workload\": \"%s\", \"namespace\": \"shop\", \"backup\": "
             "\"b\", %s",
             R, long_name, tail);
    snprintf(b[3], sizeof b[3],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"Shop\", "
             "\"backup\": \"b\", %s",
             R, tail);
    snprintf(b[4], sizeof b[4],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"%s\", \"backup\": "
             "\"b\", %s",
             R, long_ns, tail);
    snprintf(b[5], sizeof b[5],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"shop\", "
             "\"backup\": \"%s\", %s",
             R, long_ns, tail);
    snprintf(b[6], sizeof b[6],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"shop\", %s", R,
             tail);
    snprintf(b[7], sizeof b[7],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"shop\", "
             "\"backup\": \"b\", \"stateless\": \"no\", \"replicas\": {}}",
             R);
    snprintf(b[8], sizeof b[8],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"shop\", "
             "\"backup\": \"b\", \"replicas\": {}}",
             R);
    const char *head =
        "\"workload\": \"shop\", \"namespace\": \"shop\", \"backup\": \"b\", \"stateless\": true";
    snprintf(b[9], sizeof b[9], "{\"reservation\": \"%s\", %s}", R, head);
    snprintf(b[10], sizeof b[10], "{\"reservation\": \"%s\", %s, \"replicas\": [3]}", R, head);
    snprintf(b[11], sizeof b[11], "{\"reservation\": \"%s\", %s, \"replicas\": {\"pod/web\": 1}}",
             R, head);
    snprintf(b[12], sizeof b[12],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/Web\": 1}}", R, head);
    snprintf(b[13], sizeof b[13],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/web\": -1}}", R, head);
    snprintf(b[14], sizeof b[14],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/web\": 10001}}", R, head);
    snprintf(b[15], sizeof b[15],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/web\": 1.5}}", R, head);
    snprintf(b[16], sizeof b[16],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/web\": \"3\"}}", R, head);
    snprintf(b[17], sizeof b[17],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/web\": 1, "
             "\"deployment/web\": 2}}",
             R, head);
    snprintf(b[18], sizeof b[18], "{\"reservation\": \"%s\", %s, \"replicas\": %s}", R, head, many);
    snprintf(b[19], sizeof b[19],
             "{\"reservation\": \"%s\", %s, \"incremental\": 1, \"replicas\": {}}", R, head);
    snprintf(b[20], sizeof b[20],
             "{\"reservation\": \"%s\", %s, \"prestage\": null, \"replicas\": {}}", R, head);
    snprintf(b[21], sizeof b[21],
             "{\"reservation\": \"%s\", %s, \"prestage\": true, \"incremental\": true, "
             "\"replicas\": {}}",
             R, head);
    snprintf(b[22], sizeof b[22],
             "{\"reservation\": \"%s\", %s, \"backup\": \"c\", \"replicas\": {}}", R, head);
    snprintf(b[23], sizeof b[23],
             "{\"reservation\": \"%s\", \"workload\": \"shop\", \"namespace\": \"-shop\", "
             "\"backup\": \"b\", %s",
             R, tail);
    snprintf(b[24], sizeof b[24],
             "{\"reservation\": \"%s\", %s, \"replicas\": {\"deployment/\": 1}}", R, head);
    snprintf(b[25], sizeof b[25], "{\"reservation\": \"%s\", %s, \"home\": 7, \"replicas\": {}}",
             R, head);
    snprintf(b[26], sizeof b[26],
             "{\"reservation\": \"%s\", %s, \"home\": \"lulea 1\", \"replicas\": {}}", R, head);
    snprintf(b[27], sizeof b[27],
             "{\"reservation\": \"%s\", %s, \"home\": \"a\", \"home\": \"b\", \"replicas\": {}}",
             R, head);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct answer ans = post(f, AUTH_PEER, cases[i].body);
        if (ans.status != 400)
            fail_msg("case %zu: expected 400, got %d: %s", i, ans.status, ans.body);
        assert_string_equal(text(ans.json, "code"), "bad_request");
        const char *msg = text(ans.json, "error");
        if (cases[i].error && strcmp(msg, cases[i].error) != 0)
            fail_msg("case %zu: error \"%s\", want \"%s\"", i, msg, cases[i].error);
        if (!cases[i].error && strncmp(msg, "body: ", 6) != 0)
            fail_msg("case %zu: error \"%s\" does not name the body", i, msg);
        answer_clear(&ans);
    }
    /* Nothing recorded, nothing confirmed. */
    struct answer list = call(f, "GET", "/v1/imports", AUTH_ADMIN, NULL);
    assert_int_equal(cJSON_GetArraySize(field(list.json, "imports")), 0);
    answer_clear(&list);
    struct store_resv rv;
    char err[256];
    assert_int_equal(store_resv_get(f->a.store, f->rid, &rv, err, sizeof err), 0);
    assert_int_equal(rv.confirmed_ms, 0);
    store_resv_clear(&rv);
}

/* ---- 409 ---- */

static void a_site_without_kubernetes_refuses(void **state)
{
    struct fixture *f = *state;
    f->cfg.workloads.source = "static";
    char body[600];
    body_of(body, sizeof body, f->rid, "shop", "shop", "b1", NULL);
    expect(post(f, AUTH_PEER, body), 409, "no_kubernetes",
           "this site has no Kubernetes API to import into (workloads.source is \"static\", not "
           "\"kubernetes\")");
    f->cfg.workloads.source = NULL;
    expect(post(f, AUTH_PEER, body), 409, "no_kubernetes",
           "this site has no Kubernetes API to import into (workloads.source is not set, not "
           "\"kubernetes\")");
}

static void every_refusal_is_409_with_its_reason(void **state)
{
    struct fixture *f = *state;
    char body[600], want[300], err[256];
    body_of(body, sizeof body, "rsv-00000000000000ff", "shop", "shop", "b1", NULL);
    expect(post(f, AUTH_PEER, body), 409, "conflict",
           "reservation rsv-00000000000000ff: no such reservation in this site's book");
    /* Another peer's reservation. */
    body_of(body, sizeof body, f->rid2, "crm", "crm", "b1", NULL);
    snprintf(want, sizeof want, "reservation %s was not granted to " PEER, f->rid2);
    expect(post(f, AUTH_PEER, body), 409, "conflict", want);
    /* For another workload. */
    body_of(body, sizeof body, f->rid, "crm", "crm", "b1", NULL);
    snprintf(want, sizeof want, "reservation %s is for workload shop, not crm", f->rid);
    expect(post(f, AUTH_PEER, body), 409, "conflict", want);
    /* Expired: its TTL passed before any import. */
    char old[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", util_now_ms() - 60000, 10000, old);
    body_of(body, sizeof body, old, "shop", "shop", "b1", NULL);
    snprintf(want, sizeof want,
             "reservation %s expired (its TTL ended before an import confirmed it)", old);
    expect(post(f, AUTH_PEER, body), 409, "conflict", want);
    /* Released. */
    char gone[STORE_RESV_ID_SIZE];
    grant(f, PEER, "shop", util_now_ms(), 600000, gone);
    assert_int_equal(
        store_resv_release(f->a.store, gone, NULL, PEER, util_now_ms(), NULL, err, sizeof err), 0);
    body_of(body, sizeof body, gone, "shop", "shop", "b1", NULL);
    snprintf(want, sizeof want, "reservation %s was released", gone);
    expect(post(f, AUTH_PEER, body), 409, "conflict", want);

    /* The namespace is being imported already. */
    char id[32];
    started(f, AUTH_PEER, f->rid, "shop", "b1", id, sizeof id);
    body_of(body, sizeof body, f->rid, "shop", "shop", "b2", NULL);
    snprintf(want, sizeof want,
             "namespace shop is being imported already (import %s, "
             "waiting-backup)",
             id);
    expect(post(f, AUTH_PEER, body), 409, "conflict", want);
    /* The backup is another site's import. */
    body_of(body, sizeof body, f->rid2, "crm", "crm", "b1", NULL);
    snprintf(want, sizeof want, "backup b1 is imported already by import %s of another site", id);
    expect(post(f, AUTH_PEER2, body), 409, "conflict", want);
}

/* ---- 202, 200, GET ---- */

static void new_import_is_202_and_asking_again_is_200_with_the_same_id(void **state)
{
    struct fixture *f = *state;
    char id[32], body[600];
    started(f, AUTH_PEER, f->rid, "shop", "floe-falkenberg-1-shop-3-2", id, sizeof id);
    /* The reservation is confirmed: no expiry any more. */
    struct answer rs = call(f, "GET", "/v1/reservations", AUTH_PEER, NULL);
    const cJSON *r0 = cJSON_GetArrayItem(field(rs.json, "reservations"), 0);
    assert_true(cJSON_IsTrue(field(r0, "confirmed")));
    assert_true(cJSON_IsNull(field(r0, "expires_at")));
    answer_clear(&rs);

    body_of(body, sizeof body, f->rid, "shop", "shop", "floe-falkenberg-1-shop-3-2", NULL);
    struct answer again = post(f, AUTH_PEER, body);
    assert_int_equal(again.status, 200);
    assert_string_equal(text(again.json, "id"), id);
    assert_string_equal(text(again.json, "phase"), "waiting-backup");
    answer_clear(&again);

    char path[64];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    struct answer got = call(f, "GET", path, AUTH_PEER, NULL);
    assert_int_equal(got.status, 200);
    const char *keys[] = {"id",         "phase",    "error",     "reservation", "workload",
                          "namespace",  "backup",   "restore",   "restore_s",   "restored_bytes",
                          "created",    "updated",  "from_site", "stateless",   "incremental",
                          "prestage",   "replicas", "attempts",  "partial",     "cleanup",
                          "dropped_by", "ended",    "home",      "events",    NULL};
    assert_keys(got.json, keys);
    assert_string_equal(text(got.json, "id"), id);
    assert_true(cJSON_IsNull(field(got.json, "home")));
    assert_true(cJSON_IsNull(field(got.json, "error")));
    assert_string_equal(text(got.json, "reservation"), f->rid);
    assert_string_equal(text(got.json, "namespace"), "shop");
    assert_string_equal(text(got.json, "from_site"), PEER);
    assert_true(cJSON_IsNull(field(got.json, "restore")));
    assert_true(cJSON_IsNull(field(got.json, "restore_s")));
    assert_true(field(field(got.json, "replicas"), "deployment/web")->valuedouble == 3);
    assert_int_equal(cJSON_GetArraySize(field(got.json, "events")), 1);
    answer_clear(&got);

    /* The other peer does not see it; an admin does. */
    expect(call(f, "GET", path, AUTH_PEER2, NULL), 404, "not_found",
           (snprintf(body, sizeof body, "no import %s", id), body));
    got = call(f, "GET", path, AUTH_ADMIN, NULL);
    assert_int_equal(got.status, 200);
    answer_clear(&got);
    struct answer list = call(f, "GET", "/v1/imports", AUTH_PEER2, NULL);
    assert_int_equal(cJSON_GetArraySize(field(list.json, "imports")), 0);
    answer_clear(&list);
    list = call(f, "GET", "/v1/imports", AUTH_PEER, NULL);
    assert_int_equal(cJSON_GetArraySize(field(list.json, "imports")), 1);
    answer_clear(&list);
}

/* The addition "home": the workload's home as the sender names it (a
 * levelled workload's home moves with it), recorded and answered. */
static void a_named_home_is_recorded(void **state)
{
    struct fixture *f = *state;
    char body[600];
    body_of(body, sizeof body, f->rid, "shop", "shop", "floe-falkenberg-1-shop-3-2",
            "\"home\": \"lulea-1\",");
    struct answer ans = post(f, AUTH_PEER, body);
    assert_int_equal(ans.status, 202);
    char path[64];
    snprintf(path, sizeof path, "/v1/imports/%s", text(ans.json, "id"));
    answer_clear(&ans);
    struct answer got = call(f, "GET", path, AUTH_PEER, NULL);
    assert_int_equal(got.status, 200);
    assert_string_equal(text(got.json, "home"), "lulea-1");
    answer_clear(&got);
    struct store_import *rows = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(store_import_list(f->a.store, false, NULL, 0, &rows, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].home, "lulea-1");
    store_import_rows_free(rows, n);
}

static void ids_that_were_never_ids_are_404(void **state)
{
    struct fixture *f = *state;
    const char *paths[] = {"/v1/imports/abc", "/v1/imports/0",
                           "/v1/imports/012", "/v1/imports/12345678901234",
                           "/v1/imports/-1",  "/v1/imports/1x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        expect(call(f, "GET", paths[i], AUTH_PEER, NULL), 404, "not_found",
               "no such import (ids are whole numbers)");
        expect(call(f, "DELETE", paths[i], AUTH_PEER, NULL), 404, "not_found",
               "no such import (ids are whole numbers)");
    }
    expect(call(f, "GET", "/v1/imports/77", AUTH_PEER, NULL), 404, "not_found", "no import 77");
    expect(call(f, "DELETE", "/v1/imports/77", AUTH_ADMIN, NULL), 404, "not_found", "no import 77");
}

/* ---- DELETE ---- */

static void delete_ends_it_releases_and_answers_the_same_twice(void **state)
{
    struct fixture *f = *state;
    char id[32], path[64], want[64];
    started(f, AUTH_PEER, f->rid, "shop", "b1", id, sizeof id);
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    snprintf(want, sizeof want, "no import %s", id);
    expect(call(f, "DELETE", path, AUTH_PEER2, NULL), 404, "not_found", want);
    for (int i = 0; i < 2; i++) {
        struct answer ans = call(f, "DELETE", path, AUTH_PEER, NULL);
        assert_int_equal(ans.status, 200);
        assert_string_equal(text(ans.json, "phase"), "failed");
        assert_string_equal(text(ans.json, "error"), "dropped by " PEER);
        assert_string_equal(text(ans.json, "dropped_by"), PEER);
        /* It never made the namespace: nothing to delete. */
        assert_string_equal(text(ans.json, "cleanup"), "none");
        answer_clear(&ans);
    }
    struct store_resv rv;
    char err[256];
    assert_int_equal(store_resv_get(f->a.store, f->rid, &rv, err, sizeof err), 0);
    assert_int_equal(rv.state, STORE_RESV_RELEASED);
    assert_string_equal(rv.ended_by, PEER);
    store_resv_clear(&rv);

    /* The namespace is free for another import (another reservation). */
    char rid3[STORE_RESV_ID_SIZE], id2[32];
    grant(f, PEER, "shop", util_now_ms(), 600000, rid3);
    started(f, AUTH_PEER, rid3, "shop", "b2", id2, sizeof id2);
    assert_true(strcmp(id, id2) != 0);
}

/* Releasing a reservation whose import still runs drops that import in
 * the same request (a reservation is never released under a running
 * import); a ready import is the migration's result and stays. */
static void releasing_the_reservation_drops_its_running_import(void **state)
{
    struct fixture *f = *state;
    char id[32], path[96];
    started(f, AUTH_PEER, f->rid, "shop", "b1", id, sizeof id);
    snprintf(path, sizeof path, "/v1/reservations/%s", f->rid);
    struct answer ans = call(f, "DELETE", path, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    assert_string_equal(text(ans.json, "state"), "released");
    answer_clear(&ans);
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    ans = call(f, "GET", path, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    assert_string_equal(text(ans.json, "phase"), "failed");
    assert_string_equal(text(ans.json, "dropped_by"), PEER);
    answer_clear(&ans);

    /* ready: kept */
    char rid3[STORE_RESV_ID_SIZE], id2[32];
    grant(f, PEER, "shop", util_now_ms(), 600000, rid3);
    started(f, AUTH_PEER, rid3, "shop", "b2", id2, sizeof id2);
    struct store_import r;
    char err[256];
    assert_int_equal(store_import_get(f->a.store, strtoll(id2, NULL, 10), NULL, &r, err,
                                      sizeof err),
                     0);
    r.phase = STORE_IMPORT_READY;
    r.ready_ms = r.ended_ms = util_now_ms();
    assert_int_equal(store_import_save(f->a.store, &r, "ready", NULL, util_now_ms(), err,
                                       sizeof err),
                     0);
    store_import_clear(&r);
    snprintf(path, sizeof path, "/v1/reservations/%s", rid3);
    ans = call(f, "DELETE", path, AUTH_PEER, NULL);
    assert_int_equal(ans.status, 200);
    answer_clear(&ans);
    snprintf(path, sizeof path, "/v1/imports/%s", id2);
    ans = call(f, "GET", path, AUTH_PEER, NULL);
    assert_string_equal(text(ans.json, "phase"), "ready");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ans.json, "dropped_by")));
    answer_clear(&ans);
}

/* ---- status, metrics ---- */

static void status_and_metrics_count_imports(void **state)
{
    struct fixture *f = *state;
    char id[32], path[64];
    started(f, AUTH_PEER, f->rid, "shop", "b1", id, sizeof id);
    started(f, AUTH_PEER2, f->rid2, "crm", "b2", id, sizeof id);
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    struct answer del = call(f, "DELETE", path, AUTH_PEER2, NULL);
    assert_int_equal(del.status, 200);
    answer_clear(&del);

    struct answer st = call(f, "GET", "/v1/status", AUTH_READ, NULL);
    assert_int_equal(st.status, 200);
    const cJSON *im = field(st.json, "imports");
    const char *keys[] = {"active", "ready", "failed", "dropped", NULL};
    assert_keys(im, keys);
    assert_true(field(im, "active")->valuedouble == 1);
    assert_true(field(im, "ready")->valuedouble == 0);
    assert_true(field(im, "failed")->valuedouble == 0);
    assert_true(field(im, "dropped")->valuedouble == 1);
    answer_clear(&st);

    struct answer m = call(f, "GET", "/metrics", AUTH_READ, NULL);
    assert_int_equal(m.status, 200);
    assert_non_null(strstr(m.body, "# TYPE floe_imports_total counter\n"
                                   "floe_imports_total{result=\"ready\"} 0\n"
                                   "floe_imports_total{result=\"failed\"} 0\n"
                                   "floe_imports_total{result=\"dropped\"} 1\n"
                                   "# HELP floe_imports_active "));
    assert_non_null(strstr(m.body, "# TYPE floe_imports_active gauge\nfloe_imports_active 1\n"));
    answer_clear(&m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_init(LOG_LVL_ERR);
    const struct CMUnitTest tests[] = {
        T(only_peers_and_admins_may_import),
        T(every_bad_body_is_400_naming_its_field),
        T(a_site_without_kubernetes_refuses),
        T(every_refusal_is_409_with_its_reason),
        T(new_import_is_202_and_asking_again_is_200_with_the_same_id),
        T(a_named_home_is_recorded),
        T(ids_that_were_never_ids_are_404),
        T(delete_ends_it_releases_and_answers_the_same_twice),
        T(releasing_the_reservation_drops_its_running_import),
        T(status_and_metrics_count_imports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
