/*
 * fake_http — see fake_http.h.
 */
#include "tests/unit/lib/fake_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQUEST_MAX (256u << 10)

struct route {
    char method[16];
    char path[1024];
    int status;
    char *body;
    bool once; /* fake_http_route_once: answers one request, then goes */
};

struct fake_http {
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* guards what follows */
    struct route routes[FAKE_HTTP_MAX_ROUTES];
    size_t nroutes;
    struct fake_http_request *log; /* FAKE_HTTP_MAX_LOG */
    size_t count;
};

static const char not_found[] =
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
    "\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\","
    "\"details\":{},\"code\":404}";

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The value of header name in the head [buf, end), into out. */
static void header(const char *buf, const char *end, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    size_t len = strlen(name);
    for (const char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            const char *eol = strstr(v, "\r\n");
            size_t vlen = eol ? (size_t)(eol - v) : strlen(v);
            if (vlen >= n)
                vlen = n - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return;
        }
    }
}

static void serve_one(struct fake_http *s, int fd)
{
    char *buf = malloc(REQUEST_MAX + 1);
    if (!buf)
        return;
    size_t got = 0, head_len = 0, want = 0;
    char *end = NULL;
    while (got < REQUEST_MAX) {
        ssize_t r = read(fd, buf + got, REQUEST_MAX - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            head_len = (size_t)(end - buf) + 4;
            char cl[32];
            header(buf, end, "Content-Length", cl, sizeof cl);
            want = (size_t)strtoul(cl, NULL, 10);
        }
        if (end && got >= head_len + want)
            break;
    }
    buf[got] = '\0';
    if (!end) {
        free(buf);
        return;
    }
    struct fake_http_request q;
    memset(&q, 0, sizeof q);
    sscanf(buf, "%15s %1023s", q.method, q.path);
    header(buf, end, "Content-Type", q.content_type, sizeof q.content_type);
    header(buf, end, "Authorization", q.authorization, sizeof q.authorization);
    size_t blen = got - head_len;
    q.body_len = blen < sizeof q.body - 1 ? blen : sizeof q.body - 1;
    memcpy(q.body, buf + head_len, q.body_len);
    free(buf);

    int status = 404;
    char *body = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->count < FAKE_HTTP_MAX_LOG)
        s->log[s->count] = q;
    s->count++;
    size_t once = s->nroutes;
    for (size_t i = 0; i < s->nroutes && once == s->nroutes; i++)
        if (s->routes[i].once && strcmp(s->routes[i].method, q.method) == 0 &&
            strcmp(s->routes[i].path, q.path) == 0)
            once = i;
    if (once < s->nroutes) {
        status = s->routes[once].status;
        body = s->routes[once].body;
        memmove(&s->routes[once], &s->routes[once + 1],
                (s->nroutes - once - 1) * sizeof *s->routes);
        s->nroutes--;
    } else {
        for (size_t i = 0; i < s->nroutes; i++)
            if (strcmp(s->routes[i].method, q.method) == 0 &&
                strcmp(s->routes[i].path, q.path) == 0) {
                status = s->routes[i].status;
                body = strdup(s->routes[i].body);
            }
    }
    pthread_mutex_unlock(&s->lock);
    const char *text = body ? body : not_found;
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(text));
    write_all(fd, head, (size_t)n);
    write_all(fd, text, strlen(text));
    free(body);
}

static void *serve(void *arg)
{
    struct fake_http *s = arg;
    while (!s->stop) {
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        if (!s->stop)
            serve_one(s, fd);
        close(fd);
    }
    return NULL;
}

struct fake_http *fake_http_start(void)
{
    struct fake_http *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->log = calloc(FAKE_HTTP_MAX_LOG, sizeof *s->log);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (!s->log || s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(s->fd, 16) < 0 || getsockname(s->fd, (struct sockaddr *)&a, &len) < 0) {
        if (s->fd >= 0)
            close(s->fd);
        free(s->log);
        free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->lock, NULL);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        close(s->fd);
        pthread_mutex_destroy(&s->lock);
        free(s->log);
        free(s);
        return NULL;
    }
    return s;
}

void fake_http_reset(struct fake_http *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].body);
    s->nroutes = 0;
    s->count = 0;
    pthread_mutex_unlock(&s->lock);
}

void fake_http_stop(struct fake_http *s)
{
    if (!s)
        return;
    s->stop = 1;
    shutdown(s->fd, SHUT_RDWR);
    close(s->fd);
    pthread_join(s->thread, NULL);
    fake_http_reset(s);
    pthread_mutex_destroy(&s->lock);
    free(s->log);
    free(s);
}

int fake_http_port(const struct fake_http *s)
{
    return s->port;
}

void fake_http_url(const struct fake_http *s, char *out, size_t n)
{
    snprintf(out, n, "http://127.0.0.1:%d", s->port);
}

void fake_http_route(struct fake_http *s, const char *method, const char *path, int status,
                     const char *body)
{
    pthread_mutex_lock(&s->lock);
    size_t i = 0;
    while (i < s->nroutes && !(!s->routes[i].once && strcmp(s->routes[i].method, method) == 0 &&
                               strcmp(s->routes[i].path, path) == 0))
        i++;
    if (i == s->nroutes) {
        if (i == FAKE_HTTP_MAX_ROUTES)
            abort(); /* a test with more routes than this is written wrong */
        s->nroutes++;
        s->routes[i].once = false;
        snprintf(s->routes[i].method, sizeof s->routes[i].method, "%s", method);
        snprintf(s->routes[i].path, sizeof s->routes[i].path, "%s", path);
    } else {
        free(s->routes[i].body);
    }
    s->routes[i].status = status;
    s->routes[i].body = strdup(body);
    if (!s->routes[i].body)
        abort();
    pthread_mutex_unlock(&s->lock);
}

void fake_http_route_once(struct fake_http *s, const char *method, const char *path, int status,
                          const char *body)
{
    pthread_mutex_lock(&s->lock);
    if (s->nroutes == FAKE_HTTP_MAX_ROUTES)
        abort(); /* a test with more routes than this is written wrong */
    struct route *r = &s->routes[s->nroutes++];
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->status = status;
    r->once = true;
    r->body = strdup(body);
    if (!r->body)
        abort();
    pthread_mutex_unlock(&s->lock);
}

size_t fake_http_count(struct fake_http *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

int fake_http_request(struct fake_http *s, size_t i, struct fake_http_request *out)
{
    pthread_mutex_lock(&s->lock);
    int rc = -1;
    if (i < s->count && i < FAKE_HTTP_MAX_LOG) {
        *out = s->log[i];
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}
