/*
 * test_api_dashboard — the dashboard's files through api_handle() (served
 * without a token, their content types, caching and security headers,
 * 304 on a matching If-None-Match, the size budget, every file the page
 * names is served) and GET /v1/auth for each kind of caller.
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

#include "api/api.h"
#include "api/api_dashboard.h"
#include "api/api_internal.h"
#include "lib/util.h"

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"
#define TOKEN_PEER "peer-token-0123456789"

struct fixture {
    struct cfg_token tokens[3];
    struct floe_config cfg;
    struct agent a;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    f->tokens[2] = (struct cfg_token){"lulea-2", ROLE_PEER, TOKEN_PEER};
    f->cfg.site.name = "lulea-1";
    f->cfg.http.tokens = f->tokens;
    f->cfg.http.ntokens = 3;
    /* The fixture keeps one reference for good: the config lives here. */
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->a.metrics = metrics_new(100);
    assert_non_null(f->a.metrics);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    metrics_free(f->a.metrics);
    agent_config_clear(&f->a);
    free(f);
    return 0;
}

static void call(struct fixture *f, const char *method, const char *path, const char *authorization,
                 const char *if_none_match, struct api_response *resp)
{
    struct api_request req = {.method = method,
                              .path = path,
                              .authorization = authorization,
                              .if_none_match = if_none_match};
    api_handle(&f->a, &req, resp);
}

static const struct {
    const char *path;
    const char *content_type;
    const char *starts_with;
} files[] = {
    {"/", "text/html; charset=utf-8", "<!doctype html>"},
    {"/dashboard.css", "text/css; charset=utf-8", "/*"},
    {"/dashboard.js", "text/javascript; charset=utf-8", "/*"},
};

/* Served to anyone, also with anonymous_read off and with a bad token:
 * the page holds no data. */
static void dashboard_files_are_served_without_a_token_with_their_headers(void **state)
{
    struct fixture *f = *state;
    const char *auths[] = {NULL, "Bearer wrong", "Bearer " TOKEN_PEER, "Bearer " TOKEN_READ};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        for (size_t a = 0; a < ARRAY_LEN(auths); a++) {
            struct api_response resp;
            call(f, "GET", files[i].path, auths[a], NULL, &resp);
            if (resp.status != 200)
                fail_msg("GET %s with %s: %d", files[i].path, auths[a] ? auths[a] : "no token",
                         resp.status);
            assert_string_equal(resp.content_type, files[i].content_type);
            assert_non_null(resp.body);
            assert_true(resp.body_len > strlen(files[i].starts_with));
            assert_memory_equal(resp.body, files[i].starts_with, strlen(files[i].starts_with));
            assert_string_equal(resp.cache_control, "no-cache");
            assert_string_equal(resp.csp, API_DASHBOARD_CSP);
            assert_int_equal(strlen(resp.etag), 18);
            assert_int_equal(resp.etag[0], '"');
            assert_int_equal(resp.etag[17], '"');
            api_response_clear(&resp);
        }
    }
}

/* The CSP names no source but the agent itself ('self', data: for the
 * icon): no host, no scheme that loads from elsewhere, no inline script. */
static void csp_allows_the_agent_only(void **state)
{
    (void)state;
    const char *csp = API_DASHBOARD_CSP;
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(csp, "script-src 'self';"));
    assert_non_null(strstr(csp, "connect-src 'self';"));
    assert_null(strstr(csp, "unsafe"));
    assert_null(strstr(csp, "http"));
    assert_null(strstr(csp, "*"));
}

static void api_answers_keep_no_store_and_no_csp(void **state)
{
    struct fixture *f = *state;
    struct api_response resp;
    call(f, "GET", "/healthz", NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_null(resp.cache_control); /* the transport sends no-store */
    assert_null(resp.csp);
    assert_string_equal(resp.etag, "");
    api_response_clear(&resp);
}

static void matching_if_none_match_answers_304_without_a_body(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        struct api_response first;
        call(f, "GET", files[i].path, NULL, NULL, &first);
        char etag[sizeof first.etag];
        memcpy(etag, first.etag, sizeof etag);
        api_response_clear(&first);

        char weak[64], list[96];
        snprintf(weak, sizeof weak, "W/%s", etag);
        snprintf(list, sizeof list, "\"0000000000000000\", %s", etag);
        const char *matching[] = {etag, weak, list, "*"};
        for (size_t m = 0; m < ARRAY_LEN(matching); m++) {
            struct api_response resp;
            call(f, "GET", files[i].path, NULL, matching[m], &resp);
            if (resp.status != 304)
                fail_msg("GET %s If-None-Match: %s: %d", files[i].path, matching[m], resp.status);
            assert_null(resp.body);
            assert_int_equal(resp.body_len, 0);
            assert_string_equal(resp.etag, etag);
            assert_string_equal(resp.cache_control, "no-cache");
            api_response_clear(&resp);
        }
        char prefix[24];
        snprintf(prefix, sizeof prefix, "%.10s\"", etag); /* a shorter tag */
        const char *other[] = {"\"0000000000000000\"", prefix, ""};
        for (size_t o = 0; o < ARRAY_LEN(other); o++) {
            struct api_response resp;
            call(f, "GET", files[i].path, NULL, other[o], &resp);
            if (resp.status != 200)
                fail_msg("GET %s If-None-Match: %s: %d", files[i].path, other[o], resp.status);
            assert_non_null(resp.body);
            api_response_clear(&resp);
        }
    }
}

static void dashboard_weighs_under_100_kb(void **state)
{
    (void)state;
    size_t total = api_dash_index_html_len + api_dash_dashboard_css_len + api_dash_dashboard_js_len;
    if (total >= 100 * 1024)
        fail_msg("the dashboard weighs %zu bytes", total);
    assert_true(api_dash_dashboard_js_len > 1000); /* built from the real files */
}

/* Every src= and href= of the page that is a path is served (200), so the
 * page never asks the agent for something it does not have. */
static void every_file_the_page_names_is_served(void **state)
{
    struct fixture *f = *state;
    char *html = strndup((const char *)api_dash_index_html, api_dash_index_html_len);
    assert_non_null(html);
    int named = 0;
    const char *attrs[] = {"src=\"", "href=\""};
    for (size_t a = 0; a < ARRAY_LEN(attrs); a++) {
        for (const char *p = strstr(html, attrs[a]); p; p = strstr(p + 1, attrs[a])) {
            const char *v = p + strlen(attrs[a]);
            const char *end = strchr(v, '"');
            assert_non_null(end);
            char path[128];
            snprintf(path, sizeof path, "%.*s", (int)(end - v), v);
            if (strncmp(path, "data:", 5) == 0)
                continue;
            if (path[0] != '/' || path[1] == '/')
                fail_msg("the page names %s, which is not a path on the agent", path);
            struct api_response resp;
            call(f, "GET", path, NULL, NULL, &resp);
            if (resp.status != 200)
                fail_msg("the page names %s, which answers %d", path, resp.status);
            api_response_clear(&resp);
            named++;
        }
    }
    free(html);
    assert_int_equal(named, 2); /* the style sheet and the script */
}

static void dashboard_paths_take_get_and_head_only(void **state)
{
    struct fixture *f = *state;
    char allow[64];
    api_allowed_methods("/", allow, sizeof allow);
    assert_string_equal(allow, "GET, HEAD");
    struct api_response resp;
    call(f, "POST", "/", "Bearer " TOKEN_OPERATOR, NULL, &resp);
    assert_int_equal(resp.status, 405);
    api_response_clear(&resp);
    call(f, "HEAD", "/dashboard.js", NULL, NULL, &resp);
    assert_int_equal(resp.status, 200);
    api_response_clear(&resp);
    call(f, "GET", "/dashboard.map", NULL, NULL, &resp);
    assert_int_equal(resp.status, 404);
    api_response_clear(&resp);
}

/* ---- GET /v1/auth ---- */

static char *auth_answer(struct fixture *f, const char *authorization)
{
    struct api_response resp;
    call(f, "GET", "/v1/auth", authorization, NULL, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, "application/json");
    char *body = strndup(resp.body, resp.body_len);
    api_response_clear(&resp);
    return body;
}

static void auth_says_what_each_caller_may_do(void **state)
{
    struct fixture *f = *state;
    static const struct {
        int anonymous;
        const char *authorization;
        const char *want;
    } cases[] = {
        {0, NULL,
         "{\"anonymous_read\":false,\"token\":\"none\",\"name\":null,\"role\":null,\"read\":false,"
         "\"error\":\"a bearer token is required (Authorization: Bearer TOKEN)\"}"},
        {1, NULL,
         "{\"anonymous_read\":true,\"token\":\"none\",\"name\":null,\"role\":null,\"read\":true,"
         "\"error\":null}"},
        {0, "Bearer " TOKEN_READ,
         "{\"anonymous_read\":false,\"token\":\"valid\",\"name\":\"noc\",\"role\":\"read\","
         "\"read\":true,\"error\":null}"},
        {0, "Bearer " TOKEN_OPERATOR,
         "{\"anonymous_read\":false,\"token\":\"valid\",\"name\":\"facility\",\"role\":"
         "\"operator\","
         "\"read\":true,\"error\":null}"},
        {0, "Bearer " TOKEN_PEER,
         "{\"anonymous_read\":false,\"token\":\"valid\",\"name\":\"lulea-2\",\"role\":\"peer\","
         "\"read\":false,\"error\":\"a peer token may only call the peer protocol\"}"},
        /* A token sent must be valid, even where anonymous reads are open. */
        {1, "Bearer wrong",
         "{\"anonymous_read\":true,\"token\":\"invalid\",\"name\":null,\"role\":null,\"read\":"
         "false,"
         "\"error\":\"the bearer token is not valid\"}"},
        {0, "Bearer " TOKEN_READ "x",
         "{\"anonymous_read\":false,\"token\":\"invalid\",\"name\":null,\"role\":null,\"read\":"
         "false,"
         "\"error\":\"the bearer token is not valid\"}"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        f->cfg.http.anonymous_read = cases[i].anonymous;
        char *got = auth_answer(f, cases[i].authorization);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got %s", i, got);
        free(got);
    }
}

/* What /v1/auth says of reading is what a read endpoint does. */
static void auth_read_agrees_with_a_read_endpoint(void **state)
{
    struct fixture *f = *state;
    const char *auths[] = {NULL, "Bearer wrong", "Bearer " TOKEN_PEER, "Bearer " TOKEN_READ,
                           "Basic cmVhZA=="};
    for (int anonymous = 0; anonymous <= 1; anonymous++) {
        f->cfg.http.anonymous_read = anonymous;
        for (size_t i = 0; i < ARRAY_LEN(auths); i++) {
            char *got = auth_answer(f, auths[i]);
            bool says_read = strstr(got, "\"read\":true") != NULL;
            free(got);
            struct api_response resp;
            call(f, "GET", "/v1/telemetry", auths[i], NULL, &resp);
            bool reads = resp.status == 200;
            api_response_clear(&resp);
            if (says_read != reads)
                fail_msg("anonymous_read=%d %s: /v1/auth says read=%d, /v1/telemetry %s", anonymous,
                         auths[i] ? auths[i] : "(none)", says_read, reads ? "answers" : "refuses");
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            dashboard_files_are_served_without_a_token_with_their_headers, setup, teardown),
        cmocka_unit_test(csp_allows_the_agent_only),
        cmocka_unit_test_setup_teardown(api_answers_keep_no_store_and_no_csp, setup, teardown),
        cmocka_unit_test_setup_teardown(matching_if_none_match_answers_304_without_a_body, setup,
                                        teardown),
        cmocka_unit_test(dashboard_weighs_under_100_kb),
        cmocka_unit_test_setup_teardown(every_file_the_page_names_is_served, setup, teardown),
        cmocka_unit_test_setup_teardown(dashboard_paths_take_get_and_head_only, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_says_what_each_caller_may_do, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_read_agrees_with_a_read_endpoint, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
