/*
 * test_kube — the Kubernetes client: the token file re-read every minute
 * (time injected) and kept when a re-read fails; a 401 makes it read the
 * file at once and ask again with a rotated token; Status bodies turned
 * into errors that carry the API server's words; query escaping and name
 * checks; against a small loopback server run by the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/kube_client.h"
#include "kube/kube_token.h"
#include "lib/httpc.h"
#include "lib/util.h"

static void write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

/* ---- the token ---- */

static void token_file_is_read_again_every_minute(void **state)
{
    (void)state;
    char path[] = "/tmp/floe-test-token-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "first\n");
    struct kube_token *t = kube_token_new("first", path, 1000);
    char *tok, warn[320];
    assert_int_equal(kube_token_get(t, 1000, false, &tok, warn, sizeof warn), 0);
    assert_string_equal(tok, "first");
    free(tok);

    write_file(path, "second\n"); /* the kubelet rotated it */
    assert_int_equal(
        kube_token_get(t, 1000 + KUBE_TOKEN_REREAD_MS - 1, false, &tok, warn, sizeof warn), 0);
    assert_string_equal(tok, "first"); /* not a minute yet */
    free(tok);
    assert_int_equal(kube_token_get(t, 1000 + KUBE_TOKEN_REREAD_MS, false, &tok, warn, sizeof warn),
                     0);
    assert_string_equal(tok, "second");
    free(tok);

    /* a re-read that fails keeps the token it had, and says why */
    unlink(path);
    int64_t later = 1000 + 2 * KUBE_TOKEN_REREAD_MS;
    assert_int_equal(kube_token_get(t, later, false, &tok, warn, sizeof warn), 1);
    assert_string_equal(tok, "second");
    assert_non_null(strstr(warn, path));
    free(tok);
    /* and tries again at the next use, not a minute later */
    write_file(path, "third\n");
    assert_int_equal(kube_token_get(t, later + 1, false, &tok, warn, sizeof warn), 0);
    assert_string_equal(tok, "third");
    assert_string_equal(warn, "");
    free(tok);
    /* force reads at once */
    write_file(path, "fourth\n");
    assert_int_equal(kube_token_get(t, later + 2, true, &tok, warn, sizeof warn), 0);
    assert_string_equal(tok, "fourth");
    free(tok);
    /* a clock that went back re-reads rather than waiting a long minute */
    write_file(path, "fifth\n");
    assert_int_equal(kube_token_get(t, 5, false, &tok, warn, sizeof warn), 0);
    assert_string_equal(tok, "fifth");
    free(tok);
    kube_token_free(t);
    unlink(path);

    /* Only a regular file is read: a FIFO would hang the refresh (a folder
     * stands in for one, so that a failure cannot hang the test). */
    t = kube_token_new("kept", "/tmp", 0);
    assert_int_equal(kube_token_get(t, 0, true, &tok, warn, sizeof warn), 1);
    assert_string_equal(tok, "kept");
    assert_string_equal(warn, "token file /tmp: not a regular file");
    free(tok);
    kube_token_free(t);
}

static void an_inline_token_never_changes(void **state)
{
    (void)state;
    struct kube_token *t = kube_token_new("fixed", NULL, 0);
    char *tok;
    assert_int_equal(kube_token_get(t, 10 * KUBE_TOKEN_REREAD_MS, true, &tok, NULL, 0), 0);
    assert_string_equal(tok, "fixed");
    free(tok);
    assert_null(kube_token_file(t));
    kube_token_free(t);
    assert_null(kube_token_new(NULL, NULL, 0));
    assert_null(kube_token_new("", "", 0));
    /* a file never read and not there: no token at all */
    t = kube_token_new(NULL, "/nonexistent/floe/token", 0);
    char warn[320];
    assert_int_equal(kube_token_get(t, 0, false, &tok, warn, sizeof warn), -1);
    assert_null(tok);
    assert_non_null(strstr(warn, "/nonexistent/floe/token"));
    kube_token_free(t);
}

/* ---- pure helpers ---- */

static void status_bodies_become_errors_in_words(void **state)
{
    (void)state;
    char out[640];
    const char *forbidden =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"namespaces is forbidden: User \\\"system:serviceaccount:floe:floe\\\" "
        "cannot list resource \\\"namespaces\\\" in API group \\\"\\\" at the cluster "
        "scope\",\"reason\":\"Forbidden\",\"details\":{\"kind\":\"namespaces\"},\"code\":403}";
    kube_status_error("GET", "/api/v1/namespaces", 403, forbidden, strlen(forbidden), out,
                      sizeof out);
    assert_string_equal(out, "GET /api/v1/namespaces: 403 Forbidden: namespaces is forbidden: "
                             "User \"system:serviceaccount:floe:floe\" cannot list resource "
                             "\"namespaces\" in API group \"\" at the cluster scope");
    const char *gone = "{\"kind\":\"Status\",\"message\":\"the server could not find the "
                       "requested resource\",\"reason\":\"NotFound\",\"code\":404}";
    kube_status_error("DELETE", "/api/v1/namespaces/x", 404, gone, strlen(gone), out, sizeof out);
    assert_string_equal(out, "DELETE /api/v1/namespaces/x: 404 NotFound: the server could not "
                             "find the requested resource");
    const char *html = "<html>\n<body>502 Bad Gateway</body></html>";
    kube_status_error(NULL, "/api/v1/namespaces", 502, html, strlen(html), out, sizeof out);
    assert_string_equal(out, "GET /api/v1/namespaces: 502 Bad Gateway: the answer is not a "
                             "Kubernetes Status: <html>?<body>502 Bad Gateway</body></html>");
    kube_status_error("GET", "/x", 401, "", 0, out, sizeof out);
    assert_string_equal(out, "GET /x: 401 Unauthorized");
    /* a Status whose fields are not strings, and an output too small */
    const char *odd = "{\"kind\":\"Status\",\"message\":7,\"reason\":[]}";
    kube_status_error("GET", "/x", 418, odd, strlen(odd), out, sizeof out);
    assert_string_equal(out, "GET /x: 418: the answer is not a Kubernetes Status: "
                             "{\"kind\":\"Status\",\"message\":7,\"reason\":[]}");
    char tiny[12];
    kube_status_error("GET", "/api/v1/namespaces", 403, forbidden, strlen(forbidden), tiny,
                      sizeof tiny);
    assert_string_equal(tiny, "GET /api/v1");
}

static void queries_are_escaped_and_names_checked(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(kube_query_escape("floe.dev/movable=true,tier!=db", out, sizeof out), 0);
    assert_string_equal(out, "floe.dev%2Fmovable%3Dtrue%2Ctier%21%3Ddb");
    assert_int_equal(kube_query_escape("a b&c", out, sizeof out), 0);
    assert_string_equal(out, "a%20b%26c");
    char small[4];
    assert_int_equal(kube_query_escape("a/b", small, sizeof small), -1);
    assert_true(kube_name_valid("shop"));
    assert_true(kube_name_valid("a-1"));
    assert_false(kube_name_valid(""));
    assert_false(kube_name_valid("-a"));
    assert_false(kube_name_valid("a-"));
    assert_false(kube_name_valid("Shop"));
    assert_false(kube_name_valid("a/b"));
    assert_false(kube_name_valid("../x"));
    assert_false(kube_name_valid("a.b"));
    assert_false(kube_name_valid(NULL));
    char long_name[80];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    assert_false(kube_name_valid(long_name));
    long_name[63] = '\0';
    assert_true(kube_name_valid(long_name));
}

/* ---- against a server ---- */

struct server {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    char accepted[64];     /* the token the server takes now */
    char tokens_seen[512]; /* every token presented, in order, ';'-separated */
};

static void answer(int fd, int status, const char *reason, const char *body)
{
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n",
             status, reason, strlen(body));
    send(fd, head, strlen(head), MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!s->stop) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096];
        size_t got = 0;
        while (got < sizeof buf - 1) {
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        buf[got] = '\0';
        char path[256] = "", token[128] = "";
        sscanf(buf, "%*s %255s", path);
        const char *auth = strstr(buf, "Authorization: Bearer ");
        if (auth)
            sscanf(auth + 22, "%127s", token);
        pthread_mutex_lock(&s->lock);
        size_t used = strlen(s->tokens_seen);
        snprintf(s->tokens_seen + used, sizeof s->tokens_seen - used, "%s;", token);
        bool ok = strcmp(token, s->accepted) == 0;
        pthread_mutex_unlock(&s->lock);
        if (!ok)
            answer(fd, 401, "Unauthorized",
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                   "\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\","
                   "\"code\":401}");
        else if (strncmp(path, "/api/v1/namespaces", 18) == 0)
            answer(fd, 200, "OK",
                   "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"items\":[]}");
        else if (strcmp(path, "/notjson") == 0)
            answer(fd, 200, "OK", "<html>hello</html>");
        else
            answer(fd, 404, "Not Found",
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                   "\"Failure\",\"message\":\"the server could not find the requested "
                   "resource\",\"reason\":\"NotFound\",\"details\":{},\"code\":404}");
        close(fd);
    }
    return NULL;
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    strcpy(s->accepted, "token-one");
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->fd, 16) < 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, serve, s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    struct server *s = *state;
    s->stop = 1;
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

static void a_rotated_token_is_read_at_once_on_401(void **state)
{
    struct server *s = *state;
    char path[] = "/tmp/floe-test-token-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    write_file(path, "token-one\n");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port); /* a trailing slash is fine */
    struct kube_client_config cfg = {
        .server = url, .token = "token-one", .token_file = path, .timeout_ms = 3000};
    char err[256];
    struct kube_client *kc = kube_client_new(&cfg, 0, err, sizeof err);
    assert_non_null(kc);
    struct kube_req r = {.path = "/api/v1/namespaces?labelSelector=a%3Db"};
    assert_int_equal(kube_run(kc, &r, 0), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(cJSON_GetObjectItem(r.json, "kind")->valuestring, "NamespaceList");
    kube_req_clear(&r);
    assert_null(r.json);

    /* The kubelet rotates the file; the server takes only the new token
     * long before the minute is up. */
    write_file(path, "token-two\n");
    pthread_mutex_lock(&s->lock);
    strcpy(s->accepted, "token-two");
    s->tokens_seen[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(kube_run(kc, &r, 1000), 0);
    assert_int_equal(r.status, 200);
    pthread_mutex_lock(&s->lock);
    assert_string_equal(s->tokens_seen, "token-one;token-two;");
    pthread_mutex_unlock(&s->lock);
    kube_req_clear(&r);

    /* A token that is just wrong: one retry only if the file changed. */
    pthread_mutex_lock(&s->lock);
    strcpy(s->accepted, "token-three");
    s->tokens_seen[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    assert_int_equal(kube_run(kc, &r, 2000), -1);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.error, "GET /api/v1/namespaces?labelSelector=a%3Db: 401 Unauthorized: "
                                 "Unauthorized");
    pthread_mutex_lock(&s->lock);
    assert_string_equal(s->tokens_seen, "token-two;");
    pthread_mutex_unlock(&s->lock);
    kube_req_clear(&r);
    kube_client_free(kc);
    unlink(path);
}

static void errors_carry_the_api_servers_words(void **state)
{
    struct server *s = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
    struct kube_client_config cfg = {.server = url, .token = "token-one", .timeout_ms = 3000};
    struct kube_client *kc = kube_client_new(&cfg, 0, NULL, 0);
    assert_non_null(kc);
    struct kube_req rs[3] = {{.path = "/apis/velero.io/v1/namespaces/velero/backups/x"},
                             {.path = "/notjson"},
                             {.path = "/api/v1/namespaces"}};
    assert_int_equal(kube_run_all(kc, rs, 3, 0), 1);
    assert_int_equal(rs[0].status, 404);
    assert_string_equal(rs[0].error, "GET /apis/velero.io/v1/namespaces/velero/backups/x: 404 "
                                     "NotFound: the server could not find the requested resource");
    assert_null(rs[0].json);
    assert_int_equal(rs[1].status, 200);
    assert_string_equal(rs[1].error, "GET /notjson: 200, but the answer is not JSON");
    assert_non_null(rs[2].json);
    for (int i = 0; i < 3; i++)
        kube_req_clear(&rs[i]);
    kube_client_free(kc);

    /* no answer at all: status 0 and the URL */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    close(fd);
    cfg.server = url;
    kc = kube_client_new(&cfg, 0, NULL, 0);
    struct kube_req r = {.path = "/api/v1/namespaces"};
    assert_int_equal(kube_run(kc, &r, 0), -1);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.error, url));
    kube_req_clear(&r);
    kube_client_free(kc);

    char err[256];
    struct kube_client_config none = {.server = url};
    assert_null(kube_client_new(&none, 0, err, sizeof err));
    assert_non_null(strstr(err, "no bearer token"));
    struct kube_client_config nourl = {.token = "t"};
    assert_null(kube_client_new(&nourl, 0, err, sizeof err));
    assert_string_equal(err, "no API server URL");
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_file_is_read_again_every_minute),
        cmocka_unit_test(an_inline_token_never_changes),
        cmocka_unit_test(status_bodies_become_errors_in_words),
        cmocka_unit_test(queries_are_escaped_and_names_checked),
        cmocka_unit_test_setup_teardown(a_rotated_token_is_read_at_once_on_401, setup, teardown),
        cmocka_unit_test_setup_teardown(errors_carry_the_api_servers_words, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
