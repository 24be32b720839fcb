/*
 * libFuzzer target for the JSON bodies the API accepts: the input is the
 * body of a real route served through api_handle() on a hand-built agent
 * (as tests/unit/test_api_peer.c builds it: capacity expressions over
 * live metrics, a temporary SQLite store), no server, no socket.
 *
 * The first input byte picks the route (byte % 3, so the seeds can start
 * with the digits '0', '1', '2'); the rest is the body, exactly its bytes
 * (no NUL added), NULL when empty:
 *   0: POST /v1/reservations as an admin. The site has 180 kW to lend
 *      (power 650 - 400, cooling 600 - 400, margin 20), so some asks are
 *      granted and some refused;
 *   1: PUT /v1/policies/fuzz_api as an operator (an API-managed name);
 *   2: PUT /v1/policies/fuzz_config as an operator (a name the config
 *      file defines).
 *
 * Contract checked beyond not crashing (never a 500 on input alone):
 *   - every answer is a JSON object in UTF-8; an error is {"error",
 *     "code"};
 *   - reservations answer 201, 409 or 400. A 400 names its field or the
 *     body ("body:", "from_site:", "workload:", "kw:", "ttl_s:"), and a
 *     body naming one of those keys twice is always a 400; a 409 is
 *     "no_capacity" (the site is accepting) with a spare_kw the asked kW
 *     does not fit in; a 201 has a valid id, grants exactly the asked
 *     kW > 0, and leaves the active reservations within the limit. The
 *     grants are released through DELETE (each answered 200) once 16 are
 *     held or a refusal finds less than half the limit spare, so the book
 *     does not stay full;
 *   - PUT fuzz_api answers 200 or 400; a 400 starts with "body" followed
 *     by ':', '.' or ' ' (a field of the body, or the body itself); a 200
 *     echoes the name with source "api", and what it stored loads again
 *     as the evaluator loads stored policies (core/evaluator.c: parsed,
 *     checked, and compiled into one engine with the config file's): a
 *     policy the API accepted must not be dropped, or stop the others, at
 *     the next rebuild or restart;
 *   - PUT fuzz_config answers 409 naming the policy, or 400 with no body.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "config/config.h"
#include "core/capacity.h"
#include "lib/json_util.h"
#include "lib/log.h"
#include "lib/util.h"
#include "policies/pol_engine.h"
#include "store/store.h"
#include "store/store_resv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN_ADMIN "admin-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"
#define AUTH_ADMIN "Bearer " TOKEN_ADMIN
#define AUTH_OPERATOR "Bearer " TOKEN_OPERATOR
#define API_POLICY "fuzz_api"
#define CONFIG_POLICY "fuzz_config"
/* Grants held before they are all released. */
#define HELD_MAX 16
/* Floating-point slack when comparing kW sums computed in another order. */
#define KW_EPSILON 1e-6

/* The agent every input is served by, built on the first input and kept:
 * a fuzzer runs one process for many inputs. */
static struct cfg_token fuzz_tokens[2];
static struct cfg_policy fuzz_policies[1];
static struct floe_config fuzz_cfg;
static struct agent fuzz_agent;
static char fuzz_dir[64];
/* The reservations granted and not yet released by the target. */
static char held[HELD_MAX][STORE_RESV_ID_SIZE];
static size_t nheld;

static void remove_store(void)
{
    store_close(fuzz_agent.store);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/floe.db%s", fuzz_dir, suffixes[i]);
        unlink(path);
    }
    rmdir(fuzz_dir);
    metrics_free(fuzz_agent.metrics);
    cap_cache_free(fuzz_agent.capacity);
}

static void build_agent(void)
{
    log_init(LOG_LVL_ERR);
    fuzz_tokens[0] = (struct cfg_token){"root", ROLE_ADMIN, TOKEN_ADMIN};
    fuzz_tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    fuzz_policies[0].name = CONFIG_POLICY;
    fuzz_policies[0].when = "it.load_kw > 500";
    fuzz_cfg.path = "/etc/floe/floe.json";
    fuzz_cfg.site.name = "lulea-1";
    fuzz_cfg.http.tokens = fuzz_tokens;
    fuzz_cfg.http.ntokens = ARRAY_LEN(fuzz_tokens);
    fuzz_cfg.policies = fuzz_policies;
    fuzz_cfg.npolicies = ARRAY_LEN(fuzz_policies);
    fuzz_cfg.capacity.power_headroom_kw = "power.supply_kw - it.load_kw";
    fuzz_cfg.capacity.cooling_headroom_kw = "cooling.capacity_kw - it.load_kw";
    fuzz_cfg.capacity.margin_kw = 20;
    /* The static config keeps its creator's reference: never freed. */
    agent_config_init(&fuzz_agent, config_ref(&fuzz_cfg));
    fuzz_agent.metrics = metrics_new(16);
    fuzz_agent.capacity = cap_cache_new();
    /* Every grant and release is fsynced: on tmpfs when there is one. */
    strcpy(fuzz_dir, "/dev/shm/floe-fuzz-body.XXXXXX");
    if (!mkdtemp(fuzz_dir)) {
        strcpy(fuzz_dir, "/tmp/floe-fuzz-body.XXXXXX");
        if (!mkdtemp(fuzz_dir))
            abort();
    }
    if (!fuzz_agent.metrics || !fuzz_agent.capacity)
        abort();
    char db[96], err[256] = "";
    snprintf(db, sizeof db, "%s/floe.db", fuzz_dir);
    if (store_open(&fuzz_agent.store, db, err, sizeof err) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        abort();
    }
    atexit(remove_store);
    fuzz_agent.started_ms = util_now_ms();
    fuzz_agent.started_mono_ms = util_mono_ms();
}

/* api_handle evaluates capacity at the wall clock's now: the site's
 * inputs are fresh for every input, however long the run. */
static void site_now(void)
{
    int64_t now = util_now_ms();
    metrics_set_good(fuzz_agent.metrics, "power.supply_kw", 650, "kW", "pdu", 60000, now);
    metrics_set_good(fuzz_agent.metrics, "it.load_kw", 400, "kW", "pdu", 60000, now);
    metrics_set_good(fuzz_agent.metrics, "cooling.capacity_kw", 600, "kW", "derive", 60000, now);
}

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629), as JSON must be. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        size_t len = b < 0x80                 ? 1
                     : b >= 0xC2 && b <= 0xDF ? 2
                     : b >= 0xE0 && b <= 0xEF ? 3
                     : b >= 0xF0 && b <= 0xF4 ? 4
                                              : 0;
        if (len == 0 || i + len > n)
            return false;
        unsigned cp = len == 1 ? b : b & (0x7F >> len);
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const unsigned least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Serves one request; returns its status with the parsed body in *json
 * (the caller frees it). Aborts unless the body is a JSON object in
 * UTF-8. */
static int serve(const char *method, const char *path, const char *auth, const char *body,
                 size_t body_len, cJSON **json)
{
    struct api_request req = {
        .method = method, .path = path, .authorization = auth, .body = body, .body_len = body_len};
    struct api_response resp;
    api_handle(&fuzz_agent, &req, &resp);
    *json = resp.body ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
    if (!cJSON_IsObject(*json) || strcmp(resp.content_type, "application/json") != 0 ||
        !utf8_valid((const unsigned char *)resp.body, resp.body_len)) {
        fprintf(stderr, "%s %s: %d, not a JSON object: %.*s\n", method, path, resp.status,
                (int)resp.body_len, resp.body ? resp.body : "");
        abort();
    }
    int status = resp.status;
    api_response_clear(&resp);
    return status;
}

static const char *string_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An error answer: {"error": MESSAGE, "code": code}; returns the message. */
static const char *error_of(const cJSON *o, const char *code)
{
    const char *msg = string_of(o, "error");
    const char *got = string_of(o, "code");
    if (!msg || !*msg || !got || strcmp(got, code) != 0) {
        fprintf(stderr, "not a %s error: code %s\n", code, got ? got : "(none)");
        abort();
    }
    return msg;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- POST /v1/reservations ---- */

static void release_held(void)
{
    for (size_t i = 0; i < nheld; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/reservations/%s", held[i]);
        cJSON *json;
        int status = serve("DELETE", path, AUTH_ADMIN, NULL, 0, &json);
        if (status != 200) {
            fprintf(stderr, "DELETE %s: %d\n", held[i], status);
            abort();
        }
        cJSON_Delete(json);
    }
    nheld = 0;
    /* Ended rows would pile up over millions of runs. */
    char err[256];
    if (store_resv_prune(fuzz_agent.store, util_now_ms() + 1, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "store_resv_prune: %s\n", err);
        abort();
    }
}

/* What the handler should read in the body: the kW it asks for (NAN if
 * none) and the first known key it names twice at the top (NULL if none). */
static double asked_kw(const char *body, size_t len, const char **twice)
{
    static const char *const keys[] = {"from_site", "workload", "kw", "ttl_s"};
    char err[256];
    cJSON *json = body ? json_parse_commented(body, len, err, sizeof err) : NULL;
    const cJSON *kw = cJSON_GetObjectItemCaseSensitive(json, "kw");
    double v = cJSON_IsNumber(kw) ? kw->valuedouble : NAN;
    *twice = NULL;
    for (size_t i = 0; cJSON_IsObject(json) && i < ARRAY_LEN(keys) && !*twice; i++) {
        int seen = 0;
        for (const cJSON *m = json->child; m; m = m->next)
            seen += strcmp(m->string, keys[i]) == 0;
        if (seen > 1)
            *twice = keys[i];
    }
    cJSON_Delete(json);
    return v;
}

static bool id_valid(const char *id)
{
    if (!id || strlen(id) != STORE_RESV_ID_SIZE - 1 || !starts_with(id, "rsv-"))
        return false;
    return strspn(id + 4, "0123456789abcdef") == STORE_RESV_ID_SIZE - 5;
}

static void check_reservation(const char *body, size_t len)
{
    char err[256];
    struct cap_status st;
    if (cap_evaluate(&fuzz_agent, &fuzz_cfg, util_now_ms(), &st, err, sizeof err) != 0 ||
        !st.accepting) {
        fprintf(stderr, "the site is not accepting: %s %s\n", err, st.reason);
        abort();
    }
    double limit = st.limit_kw;
    const char *twice;
    double asked = asked_kw(body, len, &twice);
    cJSON *json;
    int status = serve("POST", "/v1/reservations", AUTH_ADMIN, body, len, &json);
    if (twice && status != 400) {
        /* Parsers disagree on which of the two counts: never a guess. */
        fprintf(stderr, "%d for a body naming %s twice\n", status, twice);
        abort();
    }
    if (status == 400) {
        const char *msg = error_of(json, "bad_request");
        static const char *const fields[] = {"body:", "from_site:", "workload:", "kw:", "ttl_s:"};
        bool named = false;
        for (size_t i = 0; i < ARRAY_LEN(fields); i++)
            named |= starts_with(msg, fields[i]);
        if (!named) {
            fprintf(stderr, "400 naming no field: %s\n", msg);
            abort();
        }
    } else if (status == 409) {
        error_of(json, "no_capacity");
        const cJSON *spare = cJSON_GetObjectItemCaseSensitive(json, "spare_kw");
        if (!cJSON_IsNumber(spare) || spare->valuedouble < 0 ||
            spare->valuedouble > limit + KW_EPSILON || !(asked > spare->valuedouble - KW_EPSILON)) {
            fprintf(stderr, "409 for %g kW with spare_kw %g\n", asked,
                    cJSON_IsNumber(spare) ? spare->valuedouble : NAN);
            abort();
        }
        if (spare->valuedouble < limit / 2)
            release_held();
    } else if (status == 201) {
        const char *id = string_of(json, "id");
        const cJSON *kw = cJSON_GetObjectItemCaseSensitive(json, "kw");
        double active;
        if (!id_valid(id) || !cJSON_IsNumber(kw) || !(kw->valuedouble > 0) ||
            kw->valuedouble != asked || !string_of(json, "expires_at")) {
            fprintf(stderr, "bad grant of %g kW\n", asked);
            abort();
        }
        if (store_resv_active_kw(fuzz_agent.store, util_now_ms(), &active, err, sizeof err) != 0 ||
            active > limit + KW_EPSILON) {
            fprintf(stderr, "%g kW reserved, over the limit of %g kW\n", active, limit);
            abort();
        }
        util_strlcpy(held[nheld++], id, STORE_RESV_ID_SIZE);
        if (nheld == HELD_MAX)
            release_held();
    } else {
        fprintf(stderr, "POST /v1/reservations: %d\n", status);
        abort();
    }
    cJSON_Delete(json);
}

/* ---- PUT /v1/policies/{name} ---- */

struct reload {
    bool found;
    bool loads;
    char why[300];
};

/* What core/evaluator.c's load_api_policy does with a stored policy. */
static void reload_stored(void *ctx, const char *name, const char *body)
{
    struct reload *r = ctx;
    if (strcmp(name, API_POLICY) != 0)
        return;
    r->found = true;
    struct cfg_errors errs = {0};
    struct cfg_policy p;
    char err[512] = "";
    if (cfg_parse_policy_json(body, strlen(body), "stored", &p, &errs) != 0) {
        snprintf(r->why, sizeof r->why, "%s in %s", errs.n ? errs.lines[0] : "?", body);
        cfg_errors_clear(&errs);
        return;
    }
    cfg_errors_clear(&errs);
    /* The engine the evaluator builds: the config file's policies, then
     * the API's. One that does not compile stops every policy. */
    struct cfg_policy merged[] = {fuzz_policies[0], p};
    struct pol_engine *eng = NULL;
    if (pol_policy_check(&p, "stored", err, sizeof err) != 0 ||
        pol_engine_new(&eng, merged, ARRAY_LEN(merged), err, sizeof err) != 0)
        snprintf(r->why, sizeof r->why, "%s in %s", err, body);
    else if (strcmp(p.name, API_POLICY) != 0)
        snprintf(r->why, sizeof r->why, "stored as %s", p.name);
    else
        r->loads = true;
    pol_engine_free(eng);
    cfg_policy_clear(&p);
}

static void check_policy_put(const char *body, size_t len)
{
    cJSON *json;
    int status = serve("PUT", "/v1/policies/" API_POLICY, AUTH_OPERATOR, body, len, &json);
    if (status == 400) {
        const char *msg = error_of(json, "bad_request");
        if (!starts_with(msg, "body") || !msg[4] || !strchr(":. ", msg[4])) {
            fprintf(stderr, "400 naming no field: %s\n", msg);
            abort();
        }
    } else if (status == 200) {
        const char *name = string_of(json, "name");
        const char *source = string_of(json, "source");
        if (!name || strcmp(name, API_POLICY) != 0 || !source || strcmp(source, "api") != 0 ||
            !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(json, "policy"))) {
            fprintf(stderr, "bad 200 of PUT\n");
            abort();
        }
        struct reload r = {0};
        char err[256];
        if (store_policies(fuzz_agent.store, reload_stored, &r, err, sizeof err) != 0 || !r.found ||
            !r.loads) {
            fprintf(stderr, "the stored policy does not load again: %s\n",
                    r.found ? r.why : "not stored");
            abort();
        }
    } else {
        fprintf(stderr, "PUT /v1/policies/" API_POLICY ": %d\n", status);
        abort();
    }
    cJSON_Delete(json);
}

static void check_config_policy_put(const char *body, size_t len)
{
    cJSON *json;
    int status = serve("PUT", "/v1/policies/" CONFIG_POLICY, AUTH_OPERATOR, body, len, &json);
    if (status == 409) {
        if (!strstr(error_of(json, "conflict"), CONFIG_POLICY))
            abort();
    } else if (status == 400) {
        if (len != 0 || !starts_with(error_of(json, "bad_request"), "body:"))
            abort();
    } else {
        fprintf(stderr, "PUT /v1/policies/" CONFIG_POLICY ": %d\n", status);
        abort();
    }
    cJSON_Delete(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!fuzz_agent.store)
        build_agent();
    site_now();
    /* A copy of exactly the body's bytes, so reading past it is caught. */
    size_t len = size - 1;
    char *body = len ? malloc(len) : NULL;
    if (len && !body)
        return 0;
    if (len)
        memcpy(body, data + 1, len);
    switch (data[0] % 3) {
    case 0:
        check_reservation(body, len);
        break;
    case 1:
        check_policy_put(body, len);
        break;
    default:
        check_config_policy_put(body, len);
        break;
    }
    free(body);
    return 0;
}
