/*
 * test_api_cache — the cached bodies of /v1/telemetry, /v1/status and
 * /metrics (api/api_cache.h) through api_handle(): a body is reused while
 * nothing changed, and rendered anew after each input changes (a metric
 * set, a collector report, a decision added or approved, a store write),
 * and when time alone changes it (a metric turning stale); ages are
 * written per answer; concurrent callers get whole bodies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "api/api.h"
#include "api/api_cache.h"
#include "lib/util.h"
#include "store/store_internal.h" /* read_lock: to make history queries wait */

#define TOKEN "read-token-0123456789"
#define AUTH "Bearer " TOKEN
#define METRIC "cooling.chiller1.capacity_kw"

struct fixture {
    char dir[64];
    char db[96];
    struct cfg_token token;
    struct floe_config cfg;
    struct agent a;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-api-cache.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    f->token = (struct cfg_token){"noc", ROLE_READ, TOKEN};
    f->cfg.site.name = "lulea-1";
    f->cfg.http.tokens = &f->token;
    f->cfg.http.ntokens = 1;
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->a.metrics = metrics_new(100000);
    assert_non_null(f->a.metrics);
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->a.started_ms = util_now_ms();
    f->a.started_mono_ms = util_mono_ms();
    f->a.api_cache = api_cache_new();
    assert_non_null(f->a.api_cache);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    api_cache_free(f->a.api_cache);
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

/* The body of GET path (200 expected), a new string. */
static char *get(struct fixture *f, const char *path)
{
    struct api_request req = {.method = "GET", .path = path, .authorization = AUTH};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(resp.body);
    char *body = strndup(resp.body, resp.body_len);
    assert_non_null(body);
    assert_int_equal(strlen(body), resp.body_len);
    api_response_clear(&resp);
    return body;
}

static uint64_t renders(struct api_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    uint64_t n = slot->renders;
    pthread_mutex_unlock(&slot->lock);
    return n;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The first metric's field key of a /v1/telemetry body. */
static cJSON *first_metric(cJSON *root)
{
    cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    assert_true(cJSON_IsArray(list));
    cJSON *m = cJSON_GetArrayItem(list, 0);
    assert_non_null(m);
    return m;
}

static void telemetry_body_is_reused_until_a_metric_is_set(void **state)
{
    struct fixture *f = *state;
    struct api_slot *slot = &f->a.api_cache->telemetry;
    metrics_set_good(f->a.metrics, METRIC, 500, "kW", "chiller1", 60000, util_now_ms());
    char *one = get(f, "/v1/telemetry");
    char *two = get(f, "/v1/telemetry");
    assert_int_equal(renders(slot), 1);
    assert_non_null(strstr(two, "\"value\":500"));
    metrics_set_good(f->a.metrics, METRIC, 470.25, "kW", "chiller1", 60000, util_now_ms());
    char *three = get(f, "/v1/telemetry");
    assert_int_equal(renders(slot), 2);
    assert_non_null(strstr(three, "\"value\":470.25"));
    /* A metric declared from config is listed at once, and one forgotten
     * on reload goes at once. */
    metrics_declare(f->a.metrics, "it.load_kw", "kW", "pdu", 60000);
    char *four = get(f, "/v1/telemetry");
    assert_non_null(strstr(four, "\"name\":\"it.load_kw\""));
    metrics_forget_source_except(f->a.metrics, "pdu", NULL, 0);
    char *five = get(f, "/v1/telemetry");
    assert_null(strstr(five, "it.load_kw"));
    assert_int_equal(renders(slot), 4);
    free(one);
    free(two);
    free(three);
    free(four);
    free(five);
}

static void telemetry_age_is_written_per_answer(void **state)
{
    struct fixture *f = *state;
    int64_t ts = util_now_ms() - 2000;
    metrics_set_good(f->a.metrics, METRIC, 500, "kW", "chiller1", 60000, ts);
    char *one = get(f, "/v1/telemetry");
    sleep_ms(30);
    char *two = get(f, "/v1/telemetry");
    assert_int_equal(renders(&f->a.api_cache->telemetry), 1);
    cJSON *a = cJSON_Parse(one), *b = cJSON_Parse(two);
    assert_non_null(a);
    assert_non_null(b);
    double age_a = cJSON_GetObjectItemCaseSensitive(first_metric(a), "age_s")->valuedouble;
    double age_b = cJSON_GetObjectItemCaseSensitive(first_metric(b), "age_s")->valuedouble;
    assert_true(age_a >= 2.0);
    /* The second answer is at least 30 ms older: not the first one's text. */
    assert_true(age_b >= age_a + 0.029);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(one);
    free(two);
}

static void telemetry_quality_turns_stale_as_time_passes(void **state)
{
    struct fixture *f = *state;
    /* Stale 80 ms after its sample, with no other change. */
    metrics_set_good(f->a.metrics, METRIC, 500, "kW", "chiller1", 80, util_now_ms());
    char *fresh = get(f, "/v1/telemetry");
    assert_non_null(strstr(fresh, "\"quality\":\"good\""));
    sleep_ms(120);
    char *later = get(f, "/v1/telemetry");
    assert_non_null(strstr(later, "\"quality\":\"stale\""));
    char *prom = get(f, "/metrics");
    assert_non_null(strstr(prom, "floe_metric_quality{metric=\"" METRIC "\"} 0\n"));
    free(fresh);
    free(later);
    free(prom);
}

static void prometheus_follows_collector_reports(void **state)
{
    struct fixture *f = *state;
    struct api_slot *slot = &f->a.api_cache->prometheus;
    metrics_collector_declare(f->a.metrics, "chiller1", "modbus");
    char *one = get(f, "/metrics");
    char *two = get(f, "/metrics");
    assert_non_null(strstr(two, "floe_collector_polls_total{device=\"chiller1\"} 0\n"));
    /* Reused unless the second fell between the two. */
    assert_true(renders(slot) <= 2);
    metrics_collector_report(f->a.metrics, "chiller1", true, 0.02, NULL, util_now_ms());
    char *three = get(f, "/metrics");
    assert_non_null(strstr(three, "floe_collector_polls_total{device=\"chiller1\"} 1\n"));
    assert_non_null(strstr(three, "floe_poll_duration_seconds_count{device=\"chiller1\"} 1\n"));
    free(one);
    free(two);
    free(three);
}

static void prometheus_decision_counts_follow_adds_and_approvals(void **state)
{
    struct fixture *f = *state;
    char err[256];
    int64_t id = 0;
    char *before = get(f, "/metrics");
    assert_null(strstr(before, "floe_decisions_total{kind=\"shed\""));
    assert_int_equal(store_decision_add(f->a.store, util_now_ms(), "p1", "shed",
                                        "awaiting-approval", "{}", NULL, &id, err, sizeof err),
                     0);
    char *added = get(f, "/metrics");
    assert_non_null(
        strstr(added, "floe_decisions_total{kind=\"shed\",status=\"awaiting-approval\"} 1\n"));
    assert_non_null(
        strstr(added, "floe_decisions_in_status{kind=\"shed\",status=\"awaiting-approval\"} 1\n"));
    assert_int_equal(store_decision_transition(f->a.store, id, "awaiting-approval", "placed",
                                               "{}", "facility", util_now_ms(), err, sizeof err),
                     0);
    char *approved = get(f, "/metrics");
    assert_non_null(strstr(approved,
                           "floe_decisions_total{kind=\"shed\",status=\"awaiting-approval\"} 1\n"));
    assert_non_null(strstr(
        approved, "floe_decisions_in_status{kind=\"shed\",status=\"awaiting-approval\"} 0\n"));
    assert_non_null(strstr(approved, "floe_decisions_total{kind=\"shed\",status=\"placed\"} 1\n"));
    assert_non_null(
        strstr(approved, "floe_decisions_in_status{kind=\"shed\",status=\"placed\"} 1\n"));
    free(before);
    free(added);
    free(approved);
}

static void status_follows_store_writes(void **state)
{
    struct fixture *f = *state;
    char *one = get(f, "/v1/status");
    assert_non_null(strstr(one, "\"samples\":0"));
    struct metric_sample s = {.ts_ms = util_now_ms(), .value = 1, .ok = true};
    util_strlcpy(s.name, METRIC, sizeof s.name);
    char err[256];
    assert_int_equal(store_write_samples(f->a.store, &s, 1, err, sizeof err), 0);
    char *two = get(f, "/v1/status");
    assert_non_null(strstr(two, "\"samples\":1"));
    free(one);
    free(two);
}

/* ---- concurrency ---- */

struct hammer {
    struct fixture *f;
    const char *path;
    int bad;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 300; i++) {
        struct api_request req = {.method = "GET", .path = h->path, .authorization = AUTH};
        struct api_response resp;
        api_handle(&h->f->a, &req, &resp);
        bool whole;
        if (strcmp(h->path, "/metrics") == 0) {
            /* The last family's last line ends the page. */
            whole = resp.status == 200 && resp.body_len > 0 &&
                    strstr(resp.body, "floe_migration_downtime_seconds_count 0\n") != NULL;
        } else {
            cJSON *j = resp.status == 200 ? cJSON_ParseWithLength(resp.body, resp.body_len) : NULL;
            whole = j != NULL;
            cJSON_Delete(j);
        }
        h->bad += !whole;
        api_response_clear(&resp);
    }
    return NULL;
}

static void *setter_run(void *arg)
{
    struct fixture *f = arg;
    for (int i = 0; i < 600; i++) {
        char name[64];
        snprintf(name, sizeof name, "power.pdu%d.load_kw", i % 40);
        metrics_set_good(f->a.metrics, name, i * 0.5, "kW", "pdu", 60000, util_now_ms());
        if (i % 50 == 0)
            metrics_collector_report(f->a.metrics, "pdu", i % 100 == 0, 0.01, "timeout",
                                     util_now_ms());
    }
    return NULL;
}

static void concurrent_callers_get_whole_bodies(void **state)
{
    struct fixture *f = *state;
    metrics_collector_declare(f->a.metrics, "pdu", "snmp");
    const char *paths[] = {"/v1/telemetry", "/v1/telemetry", "/metrics", "/v1/status"};
    struct hammer h[ARRAY_LEN(paths)];
    pthread_t t[ARRAY_LEN(paths) + 1];
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        h[i] = (struct hammer){.f = f, .path = paths[i]};
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    assert_int_equal(pthread_create(&t[ARRAY_LEN(paths)], NULL, setter_run, f), 0);
    for (size_t i = 0; i <= ARRAY_LEN(paths); i++)
        pthread_join(t[i], NULL);
    for (size_t i = 0; i < ARRAY_LEN(paths); i++)
        assert_int_equal(h[i].bad, 0);
    /* After the writes, an answer shows the last value. */
    char *body = get(f, "/v1/telemetry");
    assert_non_null(strstr(body, "\"value\":299.5"));
    free(body);
}

/* ---- the thread pool ---- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* A connection with one request sent; its answer is not read yet. */
static int send_request(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " AUTH
                     "\r\nConnection: close\r\n\r\n",
                     path);
    assert_int_equal(send(fd, req, (size_t)n, 0), n);
    return fd;
}

/* The status line's code of the answer on fd, 0 when none came within
 * timeout_ms. */
static int read_status(int fd, int timeout_ms)
{
    char buf[64] = "";
    size_t got = 0;
    while (got < 12) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) != 1)
            return 0;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    return atoi(buf + 9);
}

static void waiting_history_queries_do_not_hold_up_telemetry(void **state)
{
    struct fixture *f = *state;
    metrics_set_good(f->a.metrics, METRIC, 500, "kW", "chiller1", 60000, util_now_ms());
    int port = free_port();
    char listen[32], err[256] = "";
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    struct api_server *srv = api_start(&f->a, listen, err, sizeof err);
    if (!srv)
        fail_msg("api_start: %s", err);
    /* Every history query now waits for the store's reader. Twice as many
     * waiting requests as event-loop threads (4), sent one after another
     * so that each free thread takes one: answered on the loop, they would
     * hold every thread, and the telemetry request below would wait. */
    pthread_mutex_lock(&f->a.store->read_lock);
    enum { WAITING = 8 };
    int waiting[WAITING];
    for (int i = 0; i < WAITING; i++) {
        waiting[i] = send_request(port, "/v1/telemetry/" METRIC);
        sleep_ms(40);
    }
    int fast = send_request(port, "/v1/telemetry");
    int fast_status = read_status(fast, 3000);
    pthread_mutex_unlock(&f->a.store->read_lock);
    int answered = 0;
    for (int i = 0; i < WAITING; i++) {
        answered += read_status(waiting[i], 10000) == 200;
        close(waiting[i]);
    }
    close(fast);
    api_stop(srv);
    /* Checked after the server stopped, so a failure fails, not hangs. */
    assert_int_equal(fast_status, 200);
    assert_int_equal(answered, WAITING);
}

/* A render that waits for the store (behind a long history query) does
 * not hold up the other callers of that endpoint: they get the last body
 * meanwhile, and the render's own caller gets the new one. */
struct status_call {
    struct fixture *f;
    char *body;
    atomic_int done;
};

static void *status_run(void *arg)
{
    struct status_call *sc = arg;
    sc->body = get(sc->f, "/v1/status");
    atomic_store(&sc->done, 1);
    return NULL;
}

static void a_waiting_render_does_not_hold_up_the_others(void **state)
{
    struct fixture *f = *state;
    char *first = get(f, "/v1/status");
    assert_non_null(strstr(first, "\"samples\":0"));
    struct metric_sample s = {.ts_ms = util_now_ms(), .value = 1, .ok = true};
    util_strlcpy(s.name, METRIC, sizeof s.name);
    char err[256];
    assert_int_equal(store_write_samples(f->a.store, &s, 1, err, sizeof err), 0);

    pthread_mutex_lock(&f->a.store->read_lock);
    struct status_call rendering = {.f = f}, other = {.f = f};
    pthread_t t1, t2;
    assert_int_equal(pthread_create(&t1, NULL, status_run, &rendering), 0);
    sleep_ms(200); /* t1 now renders and waits for the store's reader */
    assert_int_equal(pthread_create(&t2, NULL, status_run, &other), 0);
    for (int i = 0; i < 300 && !atomic_load(&other.done); i++)
        sleep_ms(10);
    int other_done = atomic_load(&other.done);
    int rendering_done = atomic_load(&rendering.done);
    pthread_mutex_unlock(&f->a.store->read_lock);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    assert_true(other_done);      /* answered while the render waited */
    assert_false(rendering_done); /* which it did */
    assert_non_null(strstr(other.body, "\"samples\":0"));
    assert_non_null(strstr(rendering.body, "\"samples\":1"));
    free(first);
    free(rendering.body);
    free(other.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(telemetry_body_is_reused_until_a_metric_is_set, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(telemetry_age_is_written_per_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(telemetry_quality_turns_stale_as_time_passes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(prometheus_follows_collector_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(prometheus_decision_counts_follow_adds_and_approvals,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(status_follows_store_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_callers_get_whole_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(a_waiting_render_does_not_hold_up_the_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(waiting_history_queries_do_not_hold_up_telemetry, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
