/*
 * test_mig_kube — the migrator's Kubernetes client against a loopback
 * server answering Kubernetes-shaped JSON: kubectl's rollout rule, the
 * namespace read (404 is "no namespace", Terminating), the /scale
 * merge-patch exactly as sent, namespace deletion (404 and 409 are
 * done), and answers that cannot be used becoming errors that name the
 * object and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/strbuf.h"
#include "migrator/mig_kube.h"
#include "tests/unit/lib/fake_http.h"

struct fixture {
    struct fake_http *srv;
    struct kube_client *kc;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->srv = fake_http_start();
    if (!f->srv)
        return -1;
    char url[64];
    fake_http_url(f->srv, url, sizeof url);
    struct kube_client_config cfg = {.server = url, .token = "tok", .timeout_ms = 3000};
    f->kc = kube_client_new(&cfg, 0, NULL, 0);
    *state = f;
    return f->kc ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    kube_client_free(f->kc);
    fake_http_stop(f->srv);
    free(f);
    return 0;
}

#define NS_PATH "/api/v1/namespaces/shop"
#define DEPLOY_PATH "/apis/apps/v1/namespaces/shop/deployments"
#define STS_PATH "/apis/apps/v1/namespaces/shop/statefulsets"

static const char ns_active[] =
    "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"shop\","
    "\"labels\":{\"floe.dev/movable\":\"true\"}},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
    "\"status\":{\"phase\":\"Active\"}}";
static const char empty_deploys[] = "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\","
                                    "\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}";
static const char empty_sts[] = "{\"kind\":\"StatefulSetList\",\"apiVersion\":\"apps/v1\","
                                "\"metadata\":{\"resourceVersion\":\"7\"},\"items\":[]}";

/* ---- kubectl's rollout rule ---- */

static struct mig_obj obj(enum mig_obj_kind kind, int32_t spec, int32_t status, int32_t ready,
                          int32_t updated, int32_t available, int64_t gen, int64_t observed)
{
    struct mig_obj o = {.kind = kind,
                        .replicas = spec,
                        .status_replicas = status,
                        .ready_replicas = ready,
                        .updated_replicas = updated,
                        .available_replicas = available,
                        .generation = gen,
                        .observed_generation = observed};
    strcpy(o.name, "web");
    return o;
}

static void readiness_is_kubectls_rollout_rule(void **unused)
{
    (void)unused;
    const struct {
        const char *what;
        struct mig_obj o;
        bool ready, down;
    } cases[] = {
        {"deployment rolled out", obj(MIG_DEPLOYMENT, 3, 3, 3, 3, 3, 2, 2), true, false},
        {"controller has not seen the new spec yet (observedGeneration lags)",
         obj(MIG_DEPLOYMENT, 3, 3, 3, 3, 3, 3, 2), false, false},
        {"observedGeneration ahead is fine", obj(MIG_DEPLOYMENT, 3, 3, 3, 3, 3, 2, 3), true, false},
        {"deployment: ready but not yet available (minReadySeconds)",
         obj(MIG_DEPLOYMENT, 3, 3, 3, 3, 2, 1, 1), false, false},
        {"deployment reads availableReplicas, not readyReplicas",
         obj(MIG_DEPLOYMENT, 3, 3, 0, 3, 3, 1, 1), true, false},
        {"statefulset reads readyReplicas", obj(MIG_STATEFULSET, 2, 2, 2, 2, 0, 1, 1), true, false},
        {"statefulset with a pod not ready, however available it says it is",
         obj(MIG_STATEFULSET, 2, 2, 1, 2, 2, 1, 1), false, false},
        {"old pods still there during a rollout (status.replicas > spec)",
         obj(MIG_DEPLOYMENT, 3, 4, 3, 3, 3, 2, 2), false, false},
        {"not all updated", obj(MIG_DEPLOYMENT, 3, 3, 3, 2, 3, 2, 2), false, false},
        {"restored at 0, not yet scaled", obj(MIG_STATEFULSET, 0, 0, 0, 0, 0, 1, 1), true, true},
        {"scaled to 0 with a pod still terminating", obj(MIG_DEPLOYMENT, 0, 1, 0, 0, 0, 4, 4),
         false, false},
        {"a fresh object the controller never saw", obj(MIG_DEPLOYMENT, 1, 0, 0, 0, 0, 1, 0), false,
         false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (mig_obj_ready(&cases[i].o) != cases[i].ready ||
            mig_obj_scaled_down(&cases[i].o) != cases[i].down)
            fail_msg("case %zu (%s): ready %d scaled down %d", i, cases[i].what,
                     mig_obj_ready(&cases[i].o), mig_obj_scaled_down(&cases[i].o));
    }
    assert_string_equal(mig_obj_kind_key(MIG_DEPLOYMENT), "deployment");
    assert_string_equal(mig_obj_kind_key(MIG_STATEFULSET), "statefulset");
    assert_string_equal(mig_obj_kind_resource(MIG_DEPLOYMENT), "deployments");
    assert_string_equal(mig_obj_kind_resource(MIG_STATEFULSET), "statefulsets");
}

/* ---- reading a namespace ---- */

static void a_namespace_is_read_with_its_controllers(void **state)
{
    struct fixture *f = *state;
    fake_http_route(f->srv, "GET", NS_PATH, 200, ns_active);
    fake_http_route(
        f->srv, "GET", DEPLOY_PATH, 200,
        "{\"kind\":\"DeploymentList\",\"apiVersion\":\"apps/v1\",\"metadata\":{},\"items\":["
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"generation\":5},"
        "\"spec\":{\"replicas\":3,\"template\":{}},\"status\":{\"observedGeneration\":5,"
        "\"replicas\":3,\"updatedReplicas\":3,\"readyReplicas\":3,\"availableReplicas\":3}},"
        /* no spec.replicas (the API's default 1), no status yet */
        "{\"metadata\":{\"name\":\"api.v2\",\"generation\":1},\"spec\":{}},"
        /* scaled to 0: the API leaves zero counts out */
        "{\"metadata\":{\"name\":\"worker\",\"generation\":8},\"spec\":{\"replicas\":0},"
        "\"status\":{\"observedGeneration\":8}}]}");
    fake_http_route(
        f->srv, "GET", STS_PATH, 200,
        "{\"kind\":\"StatefulSetList\",\"apiVersion\":\"apps/v1\",\"metadata\":{},\"items\":["
        "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"db\",\"generation\":2},"
        "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":2,\"replicas\":2,"
        "\"readyReplicas\":1,\"updatedReplicas\":2,\"currentReplicas\":2}}]}");
    struct mig_ns_state st;
    char err[512] = "";
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), 0);
    assert_true(st.exists);
    assert_false(st.terminating);
    assert_int_equal(st.nobjs, 4);
    assert_int_equal(st.objs[0].kind, MIG_DEPLOYMENT);
    assert_string_equal(st.objs[0].name, "web");
    assert_int_equal(st.objs[0].replicas, 3);
    assert_int_equal(st.objs[0].generation, 5);
    assert_int_equal(st.objs[0].observed_generation, 5);
    assert_true(mig_obj_ready(&st.objs[0]));
    assert_string_equal(st.objs[1].name, "api.v2");
    assert_int_equal(st.objs[1].replicas, 1);
    assert_int_equal(st.objs[1].status_replicas, 0);
    assert_false(mig_obj_ready(&st.objs[1]));
    assert_string_equal(st.objs[2].name, "worker");
    assert_int_equal(st.objs[2].replicas, 0);
    assert_true(mig_obj_scaled_down(&st.objs[2]));
    assert_int_equal(st.objs[3].kind, MIG_STATEFULSET);
    assert_string_equal(st.objs[3].name, "db");
    assert_int_equal(st.objs[3].ready_replicas, 1);
    assert_int_equal(st.objs[3].updated_replicas, 2);
    assert_false(mig_obj_ready(&st.objs[3]));
    /* the three reads, all GETs with the bearer token */
    assert_int_equal(fake_http_count(f->srv), 3);
    struct fake_http_request q;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(fake_http_request(f->srv, i, &q), 0);
        assert_string_equal(q.method, "GET");
        assert_string_equal(q.authorization, "Bearer tok");
    }

    /* Terminating, by its phase or by its deletionTimestamp */
    fake_http_route(f->srv, "GET", NS_PATH, 200,
                    "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"},"
                    "\"status\":{\"phase\":\"Terminating\"}}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), 0);
    assert_true(st.exists);
    assert_true(st.terminating);
    fake_http_route(f->srv, "GET", NS_PATH, 200,
                    "{\"metadata\":{\"name\":\"shop\",\"deletionTimestamp\":"
                    "\"2026-11-25T10:49:07Z\"},\"status\":{\"phase\":\"Active\"}}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), 0);
    assert_true(st.terminating);
}

static void a_missing_namespace_is_not_an_error(void **state)
{
    struct fixture *f = *state;
    /* no route for the namespace: the fake answers a Kubernetes 404 */
    fake_http_route(f->srv, "GET", DEPLOY_PATH, 200, empty_deploys);
    fake_http_route(f->srv, "GET", STS_PATH, 200, empty_sts);
    struct mig_ns_state st = {.exists = true, .nobjs = 9};
    char err[512] = "";
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), 0);
    assert_false(st.exists);
    assert_false(st.terminating);
    assert_int_equal(st.nobjs, 0);

    /* other errors carry the API server's words */
    fake_http_route(f->srv, "GET", NS_PATH, 403,
                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"namespaces "
                    "\\\"shop\\\" is forbidden\",\"reason\":\"Forbidden\",\"code\":403}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "GET /api/v1/namespaces/shop: 403 Forbidden: namespaces \"shop\" "
                             "is forbidden");
    /* a name that is not a namespace's never reaches a path */
    size_t before = fake_http_count(f->srv);
    assert_int_equal(mig_kube_read(f->kc, "../kube-system", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "\"../kube-system\" is not a namespace name");
    assert_int_equal(fake_http_count(f->srv), before);
}

/* ---- answers that cannot be used ---- */

/* One Deployment item with `fields` inside, read; returns the error. */
static void read_bad(struct fixture *f, const char *deploy_list, const char *want)
{
    fake_http_route(f->srv, "GET", NS_PATH, 200, ns_active);
    fake_http_route(f->srv, "GET", DEPLOY_PATH, 200, deploy_list);
    fake_http_route(f->srv, "GET", STS_PATH, 200, empty_sts);
    struct mig_ns_state st;
    char err[512] = "";
    if (mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err) != -1)
        fail_msg("accepted: %s", deploy_list);
    if (strcmp(err, want) != 0)
        fail_msg("for %s\n  got  %s\n  want %s", deploy_list, err, want);
    assert_false(st.exists);
    assert_int_equal(st.nobjs, 0);
}

static void garbage_answers_are_errors_naming_the_field(void **state)
{
    struct fixture *f = *state;
#define LIST(items) "{\"kind\":\"DeploymentList\",\"items\":[" items "]}"
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":\"3\"}}"),
             "deployment web: spec.replicas: \"3\" is not a whole number 0..10000");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1000000000}}"),
             "deployment web: spec.replicas: 1000000000 is not a whole number 0..10000");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":-1}}"),
             "deployment web: spec.replicas: -1 is not a whole number 0..10000");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2.5}}"),
             "deployment web: spec.replicas: 2.5 is not a whole number 0..10000");
    read_bad(f,
             LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1},"
                  "\"status\":{\"readyReplicas\":true}}"),
             "deployment web: status.readyReplicas: true is not a whole number 0..10000");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\",\"generation\":\"4\"},\"spec\":{}}"),
             "deployment web: metadata.generation: \"4\" is not a whole number "
             "0..9007199254740992");
    read_bad(f,
             LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{},"
                  "\"status\":{\"observedGeneration\":1e300}}"),
             "deployment web: status.observedGeneration: 1.0000000000000001e+300 is not a whole "
             "number 0..9007199254740992");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":{}},{\"metadata\":{}}"),
             "DeploymentList items[1]: metadata.name: missing");
    read_bad(f, LIST("{\"spec\":{}}"), "DeploymentList items[0]: metadata: missing");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"../secrets\"}}"),
             "DeploymentList items[0]: metadata.name: \"../secrets\" is not an object name");
    read_bad(f, LIST("{\"metadata\":{\"name\":7}}"),
             "DeploymentList items[0]: metadata.name: 7 is not an object name");
    read_bad(f, LIST("\"web\""), "DeploymentList items[0]: not an object");
    read_bad(f, LIST("{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"web\"}}"),
             "DeploymentList items[0]: kind: not Deployment");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\",\"namespace\":\"other\"}}"),
             "deployment web: metadata.namespace: not shop");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"spec\":[]}"),
             "deployment web: spec: not an object");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"},\"status\":\"Running\"}"),
             "deployment web: status: not an object");
    read_bad(f, LIST("{\"metadata\":{\"name\":\"web\"}},{\"metadata\":{\"name\":\"web\"}}"),
             "GET " DEPLOY_PATH ": deployment web: listed twice");
    read_bad(f, "{\"kind\":\"StatefulSetList\",\"items\":[]}",
             "GET " DEPLOY_PATH ": the answer is not a DeploymentList");
    read_bad(f, "{\"kind\":\"DeploymentList\",\"items\":{}}",
             "GET " DEPLOY_PATH ": DeploymentList items: not an array");
    read_bad(f, "[]", "GET " DEPLOY_PATH ": the answer is not a DeploymentList");
#undef LIST

    /* more than MIG_MAX_OBJECTS, counting both kinds */
    struct strbuf b = {0};
    strbuf_puts(&b, "{\"kind\":\"DeploymentList\",\"items\":[");
    for (int i = 0; i < MIG_MAX_OBJECTS; i++)
        strbuf_printf(&b, "%s{\"metadata\":{\"name\":\"d%d\"},\"spec\":{\"replicas\":1}}",
                      i ? "," : "", i);
    strbuf_puts(&b, "]}");
    char *many = strbuf_take(&b);
    fake_http_route(f->srv, "GET", NS_PATH, 200, ns_active);
    fake_http_route(f->srv, "GET", DEPLOY_PATH, 200, many);
    fake_http_route(f->srv, "GET", STS_PATH, 200, empty_sts);
    struct mig_ns_state st;
    char err[512] = "";
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.nobjs, MIG_MAX_OBJECTS); /* exactly the most is fine */
    fake_http_route(f->srv, "GET", STS_PATH, 200,
                    "{\"items\":[{\"metadata\":{\"name\":\"db\"},\"spec\":{\"replicas\":1}}]}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "GET " STS_PATH ": more than 64 Deployments and StatefulSets in "
                             "namespace shop");
    assert_int_equal(st.nobjs, 0);
    free(many);

    /* the namespace itself */
    fake_http_route(f->srv, "GET", STS_PATH, 200, empty_sts);
    fake_http_route(f->srv, "GET", DEPLOY_PATH, 200, empty_deploys);
    fake_http_route(f->srv, "GET", NS_PATH, 200, "{\"kind\":\"Namespace\",\"metadata\":{}}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "GET /api/v1/namespaces/shop: metadata.name: not shop");
    fake_http_route(f->srv, "GET", NS_PATH, 200,
                    "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"},"
                    "\"status\":{\"phase\":3}}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "namespace shop: status.phase: not a string");
    fake_http_route(f->srv, "GET", NS_PATH, 200, "{\"kind\":\"Pod\"}");
    assert_int_equal(mig_kube_read(f->kc, "shop", 0, &st, err, sizeof err), -1);
    assert_string_equal(err, "GET /api/v1/namespaces/shop: the answer is not a Namespace");
}

/* ---- scaling ---- */

static void scaling_is_a_merge_patch_of_the_scale_subresource(void **state)
{
    struct fixture *f = *state;
    const char *path = "/apis/apps/v1/namespaces/shop/statefulsets/db/scale";
    fake_http_route(f->srv, "PATCH", path, 200,
                    "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
                    "\"db\",\"namespace\":\"shop\"},\"spec\":{\"replicas\":3},\"status\":"
                    "{\"replicas\":2,\"selector\":\"app=db\"}}");
    char err[512] = "";
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_STATEFULSET, "db", 3, 0, err, sizeof err),
                     0);
    assert_int_equal(fake_http_count(f->srv), 1);
    struct fake_http_request q;
    assert_int_equal(fake_http_request(f->srv, 0, &q), 0);
    assert_string_equal(q.method, "PATCH");
    assert_string_equal(q.path, path);
    assert_string_equal(q.content_type, "application/merge-patch+json");
    assert_string_equal(q.body, "{\"spec\":{\"replicas\":3}}");

    /* to 0: autoscaling/v1 leaves the 0 out of its answer */
    fake_http_route(f->srv, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web/scale", 200,
                    "{\"kind\":\"Scale\",\"metadata\":{\"name\":\"web\"},\"spec\":{},"
                    "\"status\":{\"replicas\":3}}");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_DEPLOYMENT, "web", 0, 0, err, sizeof err),
                     0);
    assert_int_equal(fake_http_request(f->srv, 1, &q), 0);
    assert_string_equal(q.path, "/apis/apps/v1/namespaces/shop/deployments/web/scale");
    assert_string_equal(q.body, "{\"spec\":{\"replicas\":0}}");

    /* an answer that does not say what was asked */
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_STATEFULSET, "db", 5, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "PATCH /apis/apps/v1/namespaces/shop/statefulsets/db/scale: asked "
                             "for 5 replicas, the Scale says 3");
    fake_http_route(f->srv, "PATCH", path, 200,
                    "{\"kind\":\"Scale\",\"spec\":{\"replicas\":\"5\"}}");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_STATEFULSET, "db", 5, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "statefulset db: Scale spec.replicas: \"5\" is not a whole number "
                             "0..10000");
    fake_http_route(f->srv, "PATCH", path, 200, "{\"kind\":\"Status\"}");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_STATEFULSET, "db", 5, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "PATCH /apis/apps/v1/namespaces/shop/statefulsets/db/scale: the "
                             "answer is not a Scale");
    /* the API server's refusal in its words */
    fake_http_route(f->srv, "PATCH", path, 422,
                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"StatefulSet.apps "
                    "\\\"db\\\" is invalid: spec.replicas: Invalid value: -1\",\"reason\":"
                    "\"Invalid\",\"code\":422}");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_STATEFULSET, "db", 5, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "PATCH /apis/apps/v1/namespaces/shop/statefulsets/db/scale: 422 "
                             "Invalid: StatefulSet.apps \"db\" is invalid: spec.replicas: "
                             "Invalid value: -1");

    /* refused before any request */
    size_t before = fake_http_count(f->srv);
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_DEPLOYMENT, "a/../b", 1, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "\"a/../b\" is not an object name");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_DEPLOYMENT, "web.", 1, 0, err, sizeof err),
                     -1);
    assert_int_equal(mig_kube_scale(f->kc, "Shop", MIG_DEPLOYMENT, "web", 1, 0, err, sizeof err),
                     -1);
    assert_string_equal(err, "\"Shop\" is not a namespace name");
    assert_int_equal(
        mig_kube_scale(f->kc, "shop", MIG_DEPLOYMENT, "web", 10001, 0, err, sizeof err), -1);
    assert_string_equal(err, "deployment web: 10001 replicas is not 0..10000");
    assert_int_equal(mig_kube_scale(f->kc, "shop", MIG_DEPLOYMENT, "web", -1, 0, err, sizeof err),
                     -1);
    assert_int_equal(fake_http_count(f->srv), before);
}

/* ---- deleting ---- */

static void deleting_a_namespace_already_going_is_done(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    fake_http_route(f->srv, "DELETE", NS_PATH, 200,
                    "{\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\",\"deletionTimestamp\":"
                    "\"2026-11-25T10:49:07Z\"},\"status\":{\"phase\":\"Terminating\"}}");
    assert_int_equal(mig_kube_delete_namespace(f->kc, "shop", 0, err, sizeof err), 0);
    struct fake_http_request q;
    assert_int_equal(fake_http_request(f->srv, 0, &q), 0);
    assert_string_equal(q.method, "DELETE");
    assert_string_equal(q.path, NS_PATH);

    fake_http_route(f->srv, "DELETE", NS_PATH, 409,
                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Operation cannot be "
                    "fulfilled on namespaces \\\"shop\\\": The system is ensuring all content is "
                    "removed from this namespace.\",\"reason\":\"Conflict\",\"code\":409}");
    assert_int_equal(mig_kube_delete_namespace(f->kc, "shop", 0, err, sizeof err), 0);
    fake_http_route(f->srv, "DELETE", NS_PATH, 404,
                    "{\"kind\":\"Status\",\"message\":\"namespaces \\\"shop\\\" not found\","
                    "\"reason\":\"NotFound\",\"code\":404}");
    assert_int_equal(mig_kube_delete_namespace(f->kc, "shop", 0, err, sizeof err), 0);
    fake_http_route(f->srv, "DELETE", NS_PATH, 403,
                    "{\"kind\":\"Status\",\"message\":\"namespaces \\\"shop\\\" is forbidden\","
                    "\"reason\":\"Forbidden\",\"code\":403}");
    assert_int_equal(mig_kube_delete_namespace(f->kc, "shop", 0, err, sizeof err), -1);
    assert_string_equal(err, "DELETE /api/v1/namespaces/shop: 403 Forbidden: namespaces \"shop\" "
                             "is forbidden");
    fake_http_route(f->srv, "DELETE", NS_PATH, 500, "oops");
    assert_int_equal(mig_kube_delete_namespace(f->kc, "shop", 0, err, sizeof err), -1);
    assert_string_equal(err, "DELETE /api/v1/namespaces/shop: 500 Internal Server Error: the "
                             "answer is not a Kubernetes Status: oops");
    size_t before = fake_http_count(f->srv);
    assert_int_equal(mig_kube_delete_namespace(f->kc, "", 0, err, sizeof err), -1);
    assert_string_equal(err, "\"\" is not a namespace name");
    assert_int_equal(fake_http_count(f->srv), before);
}

static int reset(void **state)
{
    struct fixture *f = *state;
    fake_http_reset(f->srv);
    return 0;
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readiness_is_kubectls_rollout_rule),
        cmocka_unit_test_setup(a_namespace_is_read_with_its_controllers, reset),
        cmocka_unit_test_setup(a_missing_namespace_is_not_an_error, reset),
        cmocka_unit_test_setup(garbage_answers_are_errors_naming_the_field, reset),
        cmocka_unit_test_setup(scaling_is_a_merge_patch_of_the_scale_subresource, reset),
        cmocka_unit_test_setup(deleting_a_namespace_already_going_is_done, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
