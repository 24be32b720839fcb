/*
 * test_peer_watch — the peer watcher behind the status screens, driven
 * round by round with injected time (peer_watch_new + peer_watch_poll) on
 * a hand-built agent whose config lists peers served by a loopback server
 * run by the test (its answer switchable between good, not accepting and
 * garbage) or at a closed port. Checks: every configured peer is listed
 * before the first round; a round records each peer's result and time;
 * the time a state began stays while the state does; a reload keeps the
 * results of peers that stay, lists new ones as not asked and drops
 * removed ones; the log gets a line per change, none per round; the thread
 * follows a reload at once, not a period later.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/agent.h"
#include "core/peer_watch.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "lib/util.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL

enum answer_mode { ANSWER_GOOD, ANSWER_NOT_ACCEPTING, ANSWER_GARBAGE };

struct fixture {
    int fd, port, closed_port;
    pthread_t thread;
    atomic_int stop;
    atomic_int mode;
    atomic_int requests;
    struct agent a;
};

static void *serve(void *arg)
{
    struct fixture *f = arg;
    while (!f->stop) {
        int fd = accept(f->fd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[4096] = "";
        size_t got = 0;
        while (got < sizeof buf - 1 && !strstr(buf, "\r\n\r\n")) {
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
        }
        char site[64] = "";
        sscanf(buf, "GET /%63[^/]", site);
        f->requests++;
        char body[512];
        if (f->mode == ANSWER_GARBAGE)
            snprintf(body, sizeof body, "{\"site\":\"%s\",\"spare_kw\":\"lots\"}", site);
        else
            snprintf(body, sizeof body,
                     "{\"site\":\"%s\",\"accepting\":%s,\"spare_kw\":%d,\"power_headroom_kw\":200,"
                     "\"cooling_headroom_kw\":null,\"reserved_kw\":0,\"ingress\":null,"
                     "\"as_of\":\"2026-01-01T00:00:00Z\"}",
                     site, f->mode == ANSWER_GOOD ? "true" : "false",
                     f->mode == ANSWER_GOOD ? 120 : 0);
        char out[1024];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         strlen(body), body);
        if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0)
            perror("send");
        close(fd);
    }
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0)
        return -1;
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A config whose peers are "name:where" pairs: where is "up" (the test's
 * server) or "down" (a closed port). */
static struct floe_config *config_of(const struct fixture *f, const char *poll, const char *specs)
{
    char peers[2048] = "";
    size_t used = 0;
    char *copy = strdup(specs);
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        char *colon = strchr(tok, ':');
        assert_non_null(colon);
        *colon = '\0';
        int port = strcmp(colon + 1, "up") == 0 ? f->port : f->closed_port;
        used += (size_t)snprintf(peers + used, sizeof peers - used,
                                 "%s{\"name\":\"%s\",\"url\":\"http://127.0.0.1:%d/%s\",\"token\":"
                                 "\"t\"}",
                                 used ? "," : "", tok, port, tok);
    }
    free(copy);
    char text[4096];
    snprintf(text, sizeof text,
             "{\"site\":{\"name\":\"lulea-1\"},\"peers_poll\":\"%s\",\"peers\":[%s]}", poll, peers);
    struct cfg_errors errs = {0};
    struct floe_config *cfg = cfg_load_buffer("floe.json", text, strlen(text), NULL, &errs);
    if (!cfg)
        fail_msg("%s", errs.n ? errs.lines[0] : "config not loaded");
    cfg_errors_clear(&errs);
    return cfg;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->fd = listen_loopback(&f->port);
    assert_true(f->fd >= 0);
    int closed = listen_loopback(&f->closed_port);
    close(closed);
    pthread_create(&f->thread, NULL, serve, f);
    agent_config_init(&f->a, config_of(f, "30s", "falkenberg-1:up oslo-2:down"));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    f->stop = 1;
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->thread, NULL);
    agent_config_clear(&f->a);
    free(f);
    return 0;
}

static struct peer_status status_of(struct peer_watch *w, const char *name)
{
    struct peer_status *ps = NULL, found;
    size_t n = peer_watch_snapshot(w, &ps);
    bool seen = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0) {
            found = ps[i];
            seen = true;
        }
    free(ps);
    if (!seen)
        fail_msg("peer %s is not listed", name);
    return found;
}

static size_t peer_count(struct peer_watch *w)
{
    struct peer_status *ps = NULL;
    size_t n = peer_watch_snapshot(w, &ps);
    free(ps);
    return n;
}

static void every_peer_is_listed_before_the_first_round(void **state)
{
    struct fixture *f = *state;
    struct peer_watch *w = peer_watch_new(&f->a);
    assert_non_null(w);
    struct peer_status *ps = NULL;
    assert_int_equal(peer_watch_snapshot(w, &ps), 2);
    assert_string_equal(ps[0].name, "falkenberg-1");
    assert_string_equal(ps[1].name, "oslo-2");
    assert_false(ps[0].polled);
    assert_int_equal(ps[0].last.state, PEER_NOT_ASKED);
    assert_int_equal(ps[0].checked_ms, 0);
    free(ps);
    assert_int_equal(f->requests, 0);
    peer_watch_stop(w);
    peer_watch_stop(NULL);
    assert_int_equal(peer_watch_snapshot(NULL, &ps), 0);
    assert_null(ps);
}

static void a_round_records_each_result_and_its_time(void **state)
{
    struct fixture *f = *state;
    struct peer_watch *w = peer_watch_new(&f->a);
    peer_watch_poll(w, T0);
    struct peer_status up = status_of(w, "falkenberg-1");
    assert_true(up.polled);
    assert_int_equal(up.last.state, PEER_OK);
    assert_true(up.last.cap.accepting);
    assert_true(up.last.cap.spare_kw == 120);
    assert_int_equal(up.checked_ms, T0);
    assert_int_equal(up.state_since_ms, T0);
    struct peer_status down = status_of(w, "oslo-2");
    assert_true(down.polled);
    assert_int_equal(down.last.state, PEER_UNREACHABLE);
    assert_int_equal(strncmp(down.last.reason, "unreachable: http://127.0.0.1:", 30), 0);
    assert_int_equal(down.checked_ms, T0);

    /* the same state again: checked moves, since stays */
    peer_watch_poll(w, T0 + 30000);
    up = status_of(w, "falkenberg-1");
    assert_int_equal(up.checked_ms, T0 + 30000);
    assert_int_equal(up.state_since_ms, T0);
    /* another state: since moves */
    f->mode = ANSWER_GARBAGE;
    peer_watch_poll(w, T0 + 60000);
    up = status_of(w, "falkenberg-1");
    assert_int_equal(up.last.state, PEER_GARBAGE);
    assert_string_equal(up.last.reason, "garbage answer: accepting is missing");
    assert_int_equal(up.state_since_ms, T0 + 60000);
    peer_watch_stop(w);
}

static void a_reload_keeps_peers_that_stay_and_lists_new_ones(void **state)
{
    struct fixture *f = *state;
    struct peer_watch *w = peer_watch_new(&f->a);
    peer_watch_poll(w, T0);
    /* oslo-2 removed, bergen-3 added, falkenberg-1 stays */
    agent_config_swap(&f->a, config_of(f, "30s", "bergen-3:up falkenberg-1:up"));
    peer_watch_config_changed(w);
    struct peer_status *ps = NULL;
    assert_int_equal(peer_watch_snapshot(w, &ps), 2);
    assert_string_equal(ps[0].name, "bergen-3");
    assert_false(ps[0].polled);
    assert_string_equal(ps[1].name, "falkenberg-1");
    assert_true(ps[1].polled);
    assert_int_equal(ps[1].checked_ms, T0);
    free(ps);
    /* a peer whose URL changes is asked afresh */
    agent_config_swap(&f->a, config_of(f, "30s", "bergen-3:up falkenberg-1:down"));
    peer_watch_config_changed(w);
    assert_false(status_of(w, "falkenberg-1").polled);
    peer_watch_poll(w, T0 + 1000);
    assert_true(status_of(w, "bergen-3").polled);
    assert_int_equal(status_of(w, "bergen-3").last.state, PEER_OK);
    assert_int_equal(status_of(w, "falkenberg-1").last.state, PEER_UNREACHABLE);
    /* no peers at all */
    agent_config_swap(&f->a, config_of(f, "30s", ""));
    peer_watch_poll(w, T0 + 2000);
    assert_int_equal(peer_count(w), 0);
    peer_watch_stop(w);
}

/* Runs rounds with stderr going to a file; returns what was logged. */
struct rounds {
    struct peer_watch *w;
    int64_t at[4];
    int n;
};

static void run_rounds(struct fixture *f, struct rounds *r, char **log)
{
    char path[] = "/tmp/floe-test-peer-watch-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    for (int i = 0; i < r->n; i++)
        peer_watch_poll(r->w, r->at[i]);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char err[256];
    *log = util_read_file(path, NULL, err, sizeof err);
    assert_non_null(*log);
    unlink(path);
    (void)f;
}

static int occurrences(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void changes_are_logged_once_rounds_are_not(void **state)
{
    struct fixture *f = *state;
    struct peer_watch *w = peer_watch_new(&f->a);
    char *log;
    struct rounds r = {.w = w, .at = {T0, T0 + 30000, T0 + 60000}, .n = 3};
    run_rounds(f, &r, &log);
    assert_int_equal(
        occurrences(log, "info: peer falkenberg-1: answering: 120 kW spare, accepting work\n"), 1);
    assert_int_equal(occurrences(log, "warning: peer oslo-2: unreachable: http://127.0.0.1:"), 1);
    assert_int_equal(occurrences(log, "\n"), 2); /* nothing else in three rounds */
    free(log);

    f->mode = ANSWER_GARBAGE;
    r = (struct rounds){.w = w, .at = {T0 + 90000, T0 + 120000}, .n = 2};
    run_rounds(f, &r, &log);
    assert_string_equal(strchr(log, ' ') + 1,
                        "warning: peer falkenberg-1: garbage answer: accepting is missing\n");
    free(log);

    f->mode = ANSWER_NOT_ACCEPTING;
    r = (struct rounds){.w = w, .at = {T0 + 157000}, .n = 1};
    run_rounds(f, &r, &log);
    assert_string_equal(strchr(log, ' ') + 1,
                        "info: peer falkenberg-1: answering again after 67s: 0 kW spare, not "
                        "accepting work\n");
    free(log);

    f->mode = ANSWER_GOOD;
    r = (struct rounds){.w = w, .at = {T0 + 187000}, .n = 1};
    run_rounds(f, &r, &log);
    assert_string_equal(strchr(log, ' ') + 1,
                        "info: peer falkenberg-1: now accepting work (120 kW spare)\n");
    free(log);
    peer_watch_stop(w);
}

static void the_thread_follows_a_reload_at_once(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct peer_watch *w = peer_watch_start(&f->a, err, sizeof err);
    assert_non_null(w);
    /* the first round starts at once */
    int64_t until = util_mono_ms() + 3000;
    while (!status_of(w, "oslo-2").polled && util_mono_ms() < until)
        util_sleep_ms(20, NULL);
    assert_true(status_of(w, "falkenberg-1").polled);
    assert_true(status_of(w, "oslo-2").polled);
    /* the period is 30 s: a new peer is listed and asked well before */
    agent_config_swap(&f->a, config_of(f, "30s", "falkenberg-1:up bergen-3:up"));
    peer_watch_config_changed(w);
    assert_int_equal(peer_count(w), 2);
    until = util_mono_ms() + 3000;
    while (!status_of(w, "bergen-3").polled && util_mono_ms() < until)
        util_sleep_ms(20, NULL);
    struct peer_status bergen = status_of(w, "bergen-3");
    assert_true(bergen.polled);
    assert_int_equal(bergen.last.state, PEER_OK);
    int64_t t0 = util_mono_ms();
    peer_watch_stop(w);
    assert_true(util_mono_ms() - t0 < 1000); /* stop does not wait out the period */
}

static void the_timeout_fits_in_the_period(void **unused)
{
    (void)unused;
    assert_int_equal(peer_watch_timeout_ms(30000), 5000);
    assert_int_equal(peer_watch_timeout_ms(4000), 2000);
    assert_int_equal(peer_watch_timeout_ms(1000), 500);
    assert_int_equal(peer_watch_timeout_ms(0), 5000);
}

int main(void)
{
    httpc_global_init();
    log_init(LOG_LVL_INFO);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_peer_is_listed_before_the_first_round, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_round_records_each_result_and_its_time, setup, teardown),
        cmocka_unit_test_setup_teardown(a_reload_keeps_peers_that_stay_and_lists_new_ones, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(changes_are_logged_once_rounds_are_not, setup, teardown),
        cmocka_unit_test_setup_teardown(the_thread_follows_a_reload_at_once, setup, teardown),
        cmocka_unit_test(the_timeout_fits_in_the_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
