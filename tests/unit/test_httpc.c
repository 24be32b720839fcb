/*
 * test_httpc — the outgoing HTTP client against a small loopback server
 * run by the test: method, headers and body as sent; answers of any
 * status; an answer over the cap refused; a silent server timed out; a
 * closed port named; requests run concurrently, not one after another;
 * https verified against a CA given as PEM text (openssl s_server, with a
 * certificate the test makes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/httpc.h"
#include "lib/util.h"

/* The server: accepts connections one thread each; what it answers
 * depends on the path. */
struct server {
    int fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    char last_request[4096]; /* the last request's head and body, for checks */
    pthread_mutex_t lock;
};

struct conn {
    struct server *srv;
    int fd;
};

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void *serve_conn(void *arg)
{
    struct conn *c = arg;
    char buf[4096];
    size_t got = 0;
    /* Read until the head is complete and the announced body is there. */
    for (;;) {
        ssize_t r = read(c->fd, buf + got, sizeof buf - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        size_t want = 0;
        const char *cl = strcasestr(buf, "Content-Length:");
        if (cl && cl < end)
            want = (size_t)strtoul(cl + 15, NULL, 10);
        if (got >= (size_t)(end + 4 - buf) + want)
            break;
    }
    buf[got] = '\0';
    pthread_mutex_lock(&c->srv->lock);
    snprintf(c->srv->last_request, sizeof c->srv->last_request, "%s", buf);
    pthread_mutex_unlock(&c->srv->lock);

    char path[256] = "";
    sscanf(buf, "%*s %255s", path);
    if (strcmp(path, "/slow") == 0) {
        usleep(700 * 1000);
        const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow";
        write_all(c->fd, a, strlen(a));
    } else if (strcmp(path, "/silent") == 0) {
        for (int i = 0; i < 40 && !c->srv->stop; i++)
            usleep(50 * 1000);
    } else if (strcmp(path, "/big") == 0) {
        const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n";
        write_all(c->fd, h, strlen(h));
        char chunk[1000];
        memset(chunk, 'x', sizeof chunk);
        for (int i = 0; i < 100; i++)
            write_all(c->fd, chunk, sizeof chunk);
    } else if (strcmp(path, "/missing") == 0) {
        const char *a = "HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\nConnection: close\r\n\r\n"
                        "{\"error\":\"no such\"}\n";
        write_all(c->fd, a, strlen(a));
    } else if (strcmp(path, "/redirect") == 0) {
        const char *a = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n\r\n";
        write_all(c->fd, a, strlen(a));
    } else {
        const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n"
                        "{\"ok\":true}";
        write_all(c->fd, a, strlen(a));
    }
    close(c->fd);
    free(c);
    return NULL;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    while (!s->stop) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (s->stop) {
            close(fd);
            break;
        }
        struct conn *c = malloc(sizeof *c);
        c->srv = s;
        c->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, serve_conn, c);
        pthread_detach(t);
    }
    return NULL;
}

static int setup(void **state)
{
    struct server *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
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
    usleep(150 * 1000); /* let detached connection threads notice stop */
    pthread_mutex_destroy(&s->lock);
    free(s);
    return 0;
}

static void url_of(const struct server *s, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "http://127.0.0.1:%d%s", s->port, path);
}

static void a_post_carries_token_type_and_body(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/v1/reservations", url, sizeof url);
    const char *body = "{\"kw\":12}";
    struct httpc_req r = {.method = "POST",
                          .url = url,
                          .bearer = "s3cret",
                          .body = body,
                          .body_len = strlen(body),
                          .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.answer, "{\"ok\":true}");
    assert_int_equal(r.answer_len, 11);
    pthread_mutex_lock(&s->lock);
    assert_non_null(strstr(s->last_request, "POST /v1/reservations HTTP/1.1\r\n"));
    assert_non_null(strstr(s->last_request, "Authorization: Bearer s3cret\r\n"));
    assert_non_null(strstr(s->last_request, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(s->last_request, "\r\n\r\n{\"kw\":12}"));
    pthread_mutex_unlock(&s->lock);
    httpc_req_clear(&r);
    assert_null(r.answer);
}

static void delete_and_patch_use_their_method(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/v1/reservations/rsv-1", url, sizeof url);
    struct httpc_req r = {.method = "DELETE", .url = url, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), 0);
    pthread_mutex_lock(&s->lock);
    assert_non_null(strstr(s->last_request, "DELETE /v1/reservations/rsv-1 HTTP/1.1\r\n"));
    assert_null(strstr(s->last_request, "Authorization:")); /* no token given, none sent */
    pthread_mutex_unlock(&s->lock);
    httpc_req_clear(&r);

    const char *body = "{\"spec\":{\"replicas\":0}}";
    struct httpc_req p = {.method = "PATCH",
                          .url = url,
                          .body = body,
                          .body_len = strlen(body),
                          .content_type = "application/merge-patch+json",
                          .timeout_ms = 2000};
    assert_int_equal(httpc_run(&p), 0);
    pthread_mutex_lock(&s->lock);
    assert_non_null(strstr(s->last_request, "PATCH /v1/reservations/rsv-1 HTTP/1.1\r\n"));
    assert_non_null(strstr(s->last_request, "Content-Type: application/merge-patch+json\r\n"));
    pthread_mutex_unlock(&s->lock);
    httpc_req_clear(&p);
}

static void extra_headers_are_sent_and_a_smuggled_line_is_refused(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/api/v1/servers/localhost/zones/apps.example.org.", url, sizeof url);
    const char *headers[] = {"X-API-Key: pdns-s3cret", "X-Trace: a b\tc", NULL};
    struct httpc_req r = {.method = "PATCH", .url = url, .headers = headers, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), 0);
    pthread_mutex_lock(&s->lock);
    assert_non_null(strstr(s->last_request, "\r\nX-API-Key: pdns-s3cret\r\n"));
    assert_non_null(strstr(s->last_request, "\r\nX-Trace: a b\tc\r\n"));
    pthread_mutex_unlock(&s->lock);
    httpc_req_clear(&r);

    /* A CR/LF would send a header of its own: refused before anything is
     * sent, and the message does not quote the line (it may hold a key). */
    const char *bad[][2] = {{"X-API-Key: s3cret\r\nX-Evil: 1", NULL},
                            {"X-API-Key s3cret", NULL},
                            {": s3cret", NULL},
                            {"X API-Key: s3cret", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pthread_mutex_lock(&s->lock);
        s->last_request[0] = '\0';
        pthread_mutex_unlock(&s->lock);
        struct httpc_req b = {.url = url, .headers = bad[i], .timeout_ms = 2000};
        assert_int_equal(httpc_run(&b), -1);
        assert_int_equal(b.status, 0);
        assert_non_null(strstr(b.error, "request header 1 is not one 'Name: value' line"));
        assert_non_null(strstr(b.error, url));
        assert_null(strstr(b.error, "s3cret"));
        usleep(50 * 1000);
        pthread_mutex_lock(&s->lock);
        assert_string_equal(s->last_request, "");
        pthread_mutex_unlock(&s->lock);
        httpc_req_clear(&b);
    }
}

static void an_error_status_is_an_answer(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/missing", url, sizeof url);
    struct httpc_req r = {.url = url, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.answer, "{\"error\":\"no such\"}\n");
    httpc_req_clear(&r);
}

static void a_redirect_is_not_followed(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/redirect", url, sizeof url);
    struct httpc_req r = {.url = url, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), 0);
    assert_int_equal(r.status, 302);
    httpc_req_clear(&r);
}

static void an_answer_over_the_cap_is_refused(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/big", url, sizeof url);
    struct httpc_req r = {.url = url, .timeout_ms = 2000, .max_body = 10000};
    assert_int_equal(httpc_run(&r), -1);
    assert_int_equal(r.status, 0);
    assert_null(r.answer);
    assert_non_null(strstr(r.error, "answer larger than 10000 bytes"));
    assert_non_null(strstr(r.error, url));
    assert_true(r.too_large); /* the caller can tell it from a transport error */
    httpc_req_clear(&r);
    assert_false(r.too_large);
    /* the same answer under the default cap is fine */
    struct httpc_req ok = {.url = url, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&ok), 0);
    assert_int_equal(ok.answer_len, 100000);
    assert_false(ok.too_large);
    httpc_req_clear(&ok);
}

static void a_silent_server_times_out_naming_the_url(void **state)
{
    struct server *s = *state;
    char url[128];
    url_of(s, "/silent", url, sizeof url);
    struct httpc_req r = {.url = url, .timeout_ms = 300};
    int64_t t0 = util_mono_ms();
    assert_int_equal(httpc_run(&r), -1);
    int64_t took = util_mono_ms() - t0;
    assert_true(took >= 250 && took < 1500);
    assert_non_null(strstr(r.error, "no answer within 300 ms"));
    assert_non_null(strstr(r.error, url));
    assert_false(r.too_large);
    httpc_req_clear(&r);
}

static void a_closed_port_and_other_schemes_are_errors(void **state)
{
    (void)state;
    /* A port nobody listens on: bind one, take its number, close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/capacity", ntohs(a.sin_port));
    close(fd);
    struct httpc_req r = {.url = url, .timeout_ms = 2000};
    assert_int_equal(httpc_run(&r), -1);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.error, url));
    httpc_req_clear(&r);

    struct httpc_req f = {.url = "file:///etc/passwd", .timeout_ms = 2000};
    assert_int_equal(httpc_run(&f), -1);
    assert_null(f.answer);
    httpc_req_clear(&f);

    struct httpc_req none = {.url = NULL};
    assert_int_equal(httpc_run(&none), -1);
    assert_string_equal(none.error, "no URL");
}

static void requests_run_concurrently(void **state)
{
    struct server *s = *state;
    char u[4][128];
    struct httpc_req rs[4];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 3; i++) {
        url_of(s, "/slow", u[i], sizeof u[i]);
        rs[i].url = u[i];
        rs[i].timeout_ms = 3000;
    }
    url_of(s, "/silent", u[3], sizeof u[3]);
    rs[3].url = u[3];
    rs[3].timeout_ms = 400;
    int64_t t0 = util_mono_ms();
    assert_int_equal(httpc_run_all(rs, 4), 3);
    int64_t took = util_mono_ms() - t0;
    /* three 700 ms answers and a 400 ms timeout: one after another would
     * be 2.5 s; together they take the longest one. */
    assert_true(took < 1400);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rs[i].status, 200);
        assert_string_equal(rs[i].answer, "slow");
    }
    assert_int_equal(rs[3].status, 0);
    assert_non_null(strstr(rs[3].error, "no answer within 400 ms"));
    for (int i = 0; i < 4; i++)
        httpc_req_clear(&rs[i]);
    assert_int_equal(httpc_run_all(NULL, 0), 0);
}

/* ---- https with a CA given as PEM text ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_answers(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static char *slurp(const char *path, size_t *len)
{
    char err[256];
    char *text = util_read_file(path, len, err, sizeof err);
    if (!text)
        fail_msg("%s", err);
    return text;
}

static void a_ca_given_as_pem_text_verifies_https(void **state)
{
    (void)state;
    char dir[] = "/tmp/floe-test-httpc.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    /* The server's own certificate, and another that did not sign it. */
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
                 "-addext subjectAltName=IP:127.0.0.1 -keyout %s/%d.key -out %s/%d.crt "
                 ">/dev/null 2>&1",
                 dir, i, dir, i);
        if (system(cmd) != 0)
            fail_msg("openssl could not make a certificate: %s", cmd);
    }
    int port = free_port();
    char accept_arg[32], crt[128], key[128], other[128];
    snprintf(accept_arg, sizeof accept_arg, "127.0.0.1:%d", port);
    snprintf(crt, sizeof crt, "%s/0.crt", dir);
    snprintf(key, sizeof key, "%s/0.key", dir);
    snprintf(other, sizeof other, "%s/1.crt", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        dup2(null_fd, 0);
        dup2(null_fd, 1);
        dup2(null_fd, 2);
        execlp("openssl", "openssl", "s_server", "-accept", accept_arg, "-cert", crt, "-key", key,
               "-www", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !port_answers(port); i++)
        usleep(50 * 1000);

    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
    size_t len = 0;
    char *pem = slurp(crt, &len);
    struct httpc_req r = {.url = url, .ca_pem = pem, .ca_pem_len = len, .timeout_ms = 5000};
    int rc = httpc_run(&r);
    if (rc != 0)
        fail_msg("https with the server's CA as PEM text: %s", r.error);
    assert_int_equal(r.status, 200);
    httpc_req_clear(&r);
    free(pem);

    /* Another CA as text: refused, even though ca_file would trust it. */
    pem = slurp(other, &len);
    struct httpc_req bad = {
        .url = url, .ca_pem = pem, .ca_pem_len = len, .ca_file = crt, .timeout_ms = 5000};
    assert_int_equal(httpc_run(&bad), -1);
    assert_int_equal(bad.status, 0);
    assert_non_null(strstr(bad.error, url));
    assert_non_null(strstr(bad.error, "certificate"));
    httpc_req_clear(&bad);
    free(pem);

    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_post_carries_token_type_and_body),
        cmocka_unit_test(delete_and_patch_use_their_method),
        cmocka_unit_test(extra_headers_are_sent_and_a_smuggled_line_is_refused),
        cmocka_unit_test(an_error_status_is_an_answer),
        cmocka_unit_test(a_redirect_is_not_followed),
        cmocka_unit_test(an_answer_over_the_cap_is_refused),
        cmocka_unit_test(a_silent_server_times_out_naming_the_url),
        cmocka_unit_test(a_closed_port_and_other_schemes_are_errors),
        cmocka_unit_test(requests_run_concurrently),
        cmocka_unit_test(a_ca_given_as_pem_text_verifies_https),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
