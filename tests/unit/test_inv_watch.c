/*
 * test_inv_watch — the agent's inventory, refreshed by hand (inv_watch_new
 * and inv_watch_tick, no thread): a static inventory and GET
 * /v1/workloads's exact shape; no source; a Kubernetes API server (a
 * loopback server run by the test) read, then gone: the last good
 * inventory kept with its time, the failure's start kept while it lasts;
 * a reload rebuilding the client; POST /v1/workloads/refresh answered 202
 * and served by the next refresh, 409 without a source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/api.h"
#include "core/inv_watch.h"
#include "lib/httpc.h"
#include "lib/util.h"

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"

struct fixture {
    struct cfg_token tokens[2];
    struct cfg_static_workload statics[2];
    char *quiesce[2];
    /* configs live in the fixture and keep one reference each for good,
     * so the agent's unrefs never free them */
    struct floe_config cfg;
    struct floe_config cfg2;
    struct agent a;
    /* a Kubernetes API server */
    int fd, port;
    pthread_t thread;
    atomic_int stop;
    char url[64];
};

static void *serve(void *arg)
{
    struct fixture *f = arg;
    while (!f->stop) {
        int fd = accept(f->fd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[2048];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        char path[256] = "";
        sscanf(buf, "%*s %255s", path);
        const char *body;
        if (strncmp(path, "/api/v1/namespaces?", 19) == 0)
            body = "{\"kind\":\"NamespaceList\",\"apiVersion\":\"v1\",\"items\":["
                   "{\"metadata\":{\"name\":\"shop\",\"annotations\":{\"floe.dev/power-kw\":\"40\","
                   "\"floe.dev/stateless\":\"true\"}}},"
                   "{\"metadata\":{\"name\":\"db\",\"annotations\":{\"floe.dev/"
                   "power-kw\":\"bad\"}}}]}";
        else if (strstr(path, "/deployments"))
            body = "{\"kind\":\"DeploymentList\",\"items\":[{\"metadata\":{\"name\":\"web\"},"
                   "\"spec\":{\"replicas\":2}}]}";
        else
            body = "{\"kind\":\"StatefulSetList\",\"items\":[]}";
        char head[256];
        snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 strlen(body));
        send(fd, head, strlen(head), MSG_NOSIGNAL);
        send(fd, body, strlen(body), MSG_NOSIGNAL);
        close(fd);
    }
    return NULL;
}

static void server_start(struct fixture *f)
{
    f->stop = 0;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->fd, 16), 0);
    socklen_t len = sizeof a;
    getsockname(f->fd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", f->port);
    pthread_create(&f->thread, NULL, serve, f);
}

static void server_stop(struct fixture *f)
{
    f->stop = 1;
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->thread, NULL);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    f->quiesce[0] = "sync";
    f->statics[0] = (struct cfg_static_workload){.name = "shop",
                                                 .namespace_ = "shop",
                                                 .power_kw = 40,
                                                 .data_gb = 1.5,
                                                 .priority = 10,
                                                 .stateless = true,
                                                 .group = "storefront",
                                                 .hostname = "shop.example.org"};
    f->statics[1] = (struct cfg_static_workload){.name = "db",
                                                 .namespace_ = "mysql",
                                                 .power_kw = 20,
                                                 .priority = 50,
                                                 .home_site = "falkenberg-1"};
    f->cfg.site.name = "lulea-1";
    f->cfg.http.tokens = f->tokens;
    f->cfg.http.ntokens = 2;
    f->cfg2 = f->cfg;
    agent_config_init(&f->a, config_ref(&f->cfg));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    inv_watch_stop(f->a.inventory);
    agent_config_clear(&f->a);
    free(f);
    return 0;
}

static cJSON *call(struct fixture *f, const char *method, const char *path, const char *token,
                   int *status)
{
    char auth[128];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    struct api_request req = {.method = method, .path = path, .authorization = auth};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    *status = resp.status;
    cJSON *json = cJSON_ParseWithLength(resp.body, resp.body_len);
    api_response_clear(&resp);
    assert_non_null(json);
    return json;
}

static void static_inventory_through_the_api(void **state)
{
    struct fixture *f = *state;
    f->cfg.workloads.source = "static";
    f->cfg.workloads.statics = f->statics;
    f->cfg.workloads.nstatics = 2;
    f->a.inventory = inv_watch_new(&f->a);
    int64_t now = util_now_ms();
    inv_watch_tick(f->a.inventory, now - 5000, 0);

    int status;
    cJSON *j = call(f, "GET", "/v1/workloads", TOKEN_READ, &status);
    assert_int_equal(status, 200);
    char *text = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "workloads"));
    assert_string_equal(
        text,
        "[{\"name\":\"shop\",\"namespace\":\"shop\",\"movable\":true,\"reason\":null,"
        "\"error\":null,\"power_kw\":40,\"data_gb\":1.5,\"priority\":10,\"stateless\":true,"
        "\"group\":\"storefront\",\"hostname\":\"shop.example.org\",\"pinned\":false,"
        "\"home_site\":null,\"quiesce\":null,\"pod_hooks\":false,\"replicas\":{}},"
        "{\"name\":\"db\",\"namespace\":\"mysql\",\"movable\":false,\"reason\":\"stateful and "
        "cannot be quiesced: no quiesce command, and migrator.data_mover is off: its final "
        "backup could miss writes made while it runs\",\"error\":null,\"power_kw\":20,"
        "\"data_gb\":0,\"priority\":50,\"stateless\":false,\"group\":null,\"hostname\":null,"
        "\"pinned\":false,\"home_site\":\"falkenberg-1\",\"quiesce\":null,\"pod_hooks\":false,"
        "\"replicas\":{}}]");
    free(text);
    assert_string_equal(cJSON_GetObjectItem(j, "source")->valuestring, "static");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
    assert_true(cJSON_GetObjectItem(j, "age_s")->valuedouble >= 5.0);
    assert_non_null(strstr(cJSON_GetObjectItem(j, "refreshed_at")->valuestring, "Z"));
    assert_null(cJSON_GetObjectItem(j, "credentials")); /* only for kubernetes */
    cJSON_Delete(j);

    /* on demand: 202 with a request number, served by the next refresh */
    j = call(f, "POST", "/v1/workloads/refresh", TOKEN_OPERATOR, &status);
    assert_int_equal(status, 202);
    assert_int_equal(cJSON_GetObjectItem(j, "request")->valueint, 1);
    cJSON_Delete(j);
    j = call(f, "GET", "/v1/workloads", TOKEN_READ, &status);
    assert_int_equal(cJSON_GetObjectItem(j, "requests_served")->valueint, 0);
    cJSON_Delete(j);
    inv_watch_tick(f->a.inventory, now, 0);
    j = call(f, "GET", "/v1/workloads", TOKEN_READ, &status);
    assert_int_equal(cJSON_GetObjectItem(j, "requests_served")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(j, "refreshes")->valueint, 2);
    cJSON_Delete(j);

    j = call(f, "POST", "/v1/workloads/refresh", TOKEN_READ, &status);
    assert_int_equal(status, 403);
    cJSON_Delete(j);

    /* data_mover moves the stateful one after a reload */
    f->cfg2.workloads = f->cfg.workloads;
    f->cfg2.migrator.data_mover = true;
    agent_config_swap(&f->a, config_ref(&f->cfg2));
    inv_watch_tick(f->a.inventory, now, 0);
    struct inv_view v;
    inv_watch_view(f->a.inventory, &v);
    assert_true(inv_workload_movable(inv_find(v.inv, "db")));
    inv_unref(v.inv);
}

static void no_source_no_inventory(void **state)
{
    struct fixture *f = *state;
    f->a.inventory = inv_watch_new(&f->a);
    inv_watch_tick(f->a.inventory, util_now_ms(), 0);
    int status;
    cJSON *j = call(f, "GET", "/v1/workloads", TOKEN_READ, &status);
    assert_int_equal(status, 200);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "source")));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "workloads")), 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "refreshed_at")));
    cJSON_Delete(j);
    j = call(f, "POST", "/v1/workloads/refresh", TOKEN_OPERATOR, &status);
    assert_int_equal(status, 409);
    cJSON_Delete(j);
}

static void api_down_keeps_the_last_good_inventory(void **state)
{
    struct fixture *f = *state;
    server_start(f);
    f->cfg.workloads.source = "kubernetes";
    f->cfg.workloads.k8s_api = f->url;
    f->cfg.workloads.k8s_token = "k8s-token";
    f->cfg.workloads.k8s_label_selector = "floe.dev/movable=true";
    f->cfg.workloads.k8s_credentials = "workloads.kubernetes";
    f->a.inventory = inv_watch_new(&f->a);
    inv_watch_tick(f->a.inventory, 1000000, 0);
    struct inv_view v;
    inv_watch_view(f->a.inventory, &v);
    assert_string_equal(v.source, "kubernetes");
    assert_string_equal(v.error, "");
    assert_non_null(v.inv);
    assert_int_equal(v.inv->read_ms, 1000000);
    assert_int_equal(v.inv->n, 2);
    const struct inv_workload *shop = inv_find(v.inv, "shop");
    assert_true(inv_workload_movable(shop));
    assert_int_equal(shop->ncontrollers, 1);
    assert_int_equal(shop->controllers[0].replicas, 2);
    assert_non_null(inv_find(v.inv, "db")->error);
    struct inventory *first = v.inv; /* this reader keeps its reference */

    server_stop(f);
    inv_watch_tick(f->a.inventory, 1060000, 60000);
    inv_watch_view(f->a.inventory, &v);
    assert_ptr_equal(v.inv, first); /* the same inventory, kept */
    assert_int_equal(v.inv->read_ms, 1000000);
    assert_non_null(strstr(v.error, f->url));
    assert_int_equal(v.failing_since_ms, 1060000);
    assert_int_equal(v.attempted_ms, 1060000);
    inv_unref(v.inv);
    inv_watch_tick(f->a.inventory, 1120000, 120000);
    inv_watch_view(f->a.inventory, &v);
    assert_int_equal(v.failing_since_ms, 1060000); /* still the same outage */
    assert_int_equal(v.attempted_ms, 1120000);
    assert_ptr_equal(v.inv, first);
    inv_unref(v.inv);

    /* a reload with the server back elsewhere: a new client, read again */
    server_start(f);
    f->cfg2.workloads = f->cfg.workloads;
    f->cfg2.workloads.k8s_api = f->url;
    agent_config_swap(&f->a, config_ref(&f->cfg2));
    inv_watch_tick(f->a.inventory, 1180000, 180000);
    inv_watch_view(f->a.inventory, &v);
    assert_string_equal(v.error, "");
    assert_int_equal(v.failing_since_ms, 0);
    assert_int_equal(v.inv->read_ms, 1180000);
    assert_ptr_not_equal(v.inv, first);
    inv_unref(v.inv);
    server_stop(f);

    /* the first reader's inventory lived on while it held it */
    assert_string_equal(first->workloads[0].name, "db");
    inv_unref(first);

    /* the API shows the kept inventory with the error */
    int status;
    cJSON *j = call(f, "GET", "/v1/workloads", TOKEN_READ, &status);
    assert_string_equal(cJSON_GetObjectItem(j, "credentials")->valuestring, "workloads.kubernetes");
    cJSON *db = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "workloads"), 0);
    assert_string_equal(cJSON_GetObjectItem(db, "name")->valuestring, "db");
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(db, "movable")));
    assert_string_equal(cJSON_GetObjectItem(db, "error")->valuestring,
                        "floe.dev/power-kw: \"bad\" is not a number (write it like \"40\" or "
                        "\"12.5\")");
    assert_null(cJSON_GetObjectItem(db, "power_kw")); /* nothing else of it is trusted */
    cJSON_Delete(j);
}

static void the_thread_refreshes_on_request_and_stops(void **state)
{
    struct fixture *f = *state;
    f->cfg.workloads.source = "static";
    f->cfg.workloads.statics = f->statics;
    f->cfg.workloads.nstatics = 1;
    f->cfg.workloads.refresh_ms = 3600000;
    char err[128];
    f->a.inventory = inv_watch_start(&f->a, err, sizeof err);
    assert_non_null(f->a.inventory);
    struct inv_view v = {0};
    for (int i = 0; i < 100 && v.refreshes == 0; i++) {
        usleep(20000);
        inv_watch_view(f->a.inventory, &v);
        inv_unref(v.inv);
    }
    assert_int_equal(v.refreshes, 1);
    uint64_t ticket = inv_watch_request(f->a.inventory);
    for (int i = 0; i < 100 && v.requests_served < ticket; i++) {
        usleep(20000);
        inv_watch_view(f->a.inventory, &v);
        inv_unref(v.inv);
    }
    assert_true(v.requests_served >= ticket); /* an hour early: it was asked */
    int64_t t0 = util_mono_ms();
    inv_watch_stop(f->a.inventory);
    f->a.inventory = NULL;
    assert_true(util_mono_ms() - t0 < 1000); /* not an hour */
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(static_inventory_through_the_api, setup, teardown),
        cmocka_unit_test_setup_teardown(no_source_no_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(api_down_keeps_the_last_good_inventory, setup, teardown),
        cmocka_unit_test_setup_teardown(the_thread_refreshes_on_request_and_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
