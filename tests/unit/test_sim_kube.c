/*
 * test_sim_kube — the simulated cluster behaving like a real one over
 * simulated time: pods that come up after the ready delay and stop after
 * the stop delay (kubectl's rollout check true only then), the write API
 * (/scale GET/PUT/PATCH with merge, strategic and JSON patches, PUT with
 * resourceVersion, creates, namespace delete and Terminating) with the
 * API server's Status errors (409, 415, 422, 403, 404), data versions
 * that only running unquiesced pods advance, the faults, namespace
 * snapshots and Velero-style restores, and the hook for other API groups.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_api.h"
#include "sim/sim_cluster.h"
#include "sim/sim_cluster_edit.h"
#include "sim/sim_cluster_snap.h"
#include "sim/sim_kube.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEP "/apis/apps/v1/namespaces/shop/deployments"
#define STS "/apis/apps/v1/namespaces/shop/statefulsets"
#define MERGE "application/merge-patch+json"

static const char *const shop_cluster =
    "{\"namespaces\": ["
    " {\"name\": \"shop\", \"annotations\": {\"floe.dev/power-kw\": \"40\", \"floe.dev/data-gb\": "
    "\"37\"},"
    "  \"deployments\": [{\"name\": \"web\", \"replicas\": 2, \"labels\": {\"role\": \"front\"}}],"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 1}]},"
    " {\"name\": \"batch\", \"annotations\": {\"floe.dev/power-kw\": \"10\"},"
    "  \"deployments\": [{\"name\": \"worker\"}]}"
    "]}";

static void build(struct simc_cluster *c)
{
    simc_init(c, "lulea-1");
    c->epoch_ms = 1767225600000LL;
    cJSON *v = cJSON_Parse(shop_cluster);
    assert_non_null(v);
    char err[512];
    if (simc_parse_scenario(c, v, "cluster", err, sizeof err) < 0)
        fail_msg("%s", err);
    cJSON_Delete(v);
}

/* One request at simulated time now_ms; the parsed answer (caller
 * deletes) after checking the status. */
static cJSON *call(struct simc_cluster *c, int64_t now_ms, const char *method, const char *path,
                   const char *content_type, const char *body, int want)
{
    struct sim_kube_request req = {.method = method,
                                   .path = path,
                                   .content_type = content_type,
                                   .body = body,
                                   .body_len = body ? strlen(body) : 0,
                                   .now_ms = now_ms};
    char *out = NULL;
    int status = sim_kube_handle(c, &req, &out);
    if (status != want)
        fail_msg("%s %s: status %d, want %d: %s", method, path, status, want, out ? out : "-");
    assert_non_null(out);
    cJSON *o = cJSON_Parse(out);
    if (!o)
        fail_msg("%s %s: not JSON: %s", method, path, out);
    free(out);
    return o;
}

static const cJSON *at(const cJSON *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    return o;
}

static const char *str_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    if (!cJSON_IsString(v))
        fail_msg("%s: not a string", path);
    return v->valuestring;
}

/* A count, 0 when left out (omitempty). */
static int count_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : 0;
}

/* kubectl rollout status's rule, read from the printed object. */
static bool rolled_out(const cJSON *w)
{
    int spec = count_at(w, "spec.replicas");
    bool sts = strcmp(str_at(w, "kind"), "StatefulSet") == 0;
    return count_at(w, "status.observedGeneration") >= count_at(w, "metadata.generation") &&
           count_at(w, "status.updatedReplicas") == spec &&
           count_at(w, sts ? "status.readyReplicas" : "status.availableReplicas") == spec &&
           count_at(w, "status.replicas") == spec;
}

static bool web_rolled_out(struct simc_cluster *c, int64_t now_ms)
{
    cJSON *w = call(c, now_ms, "GET", DEP "/web", NULL, NULL, 200);
    bool r = rolled_out(w);
    cJSON_Delete(w);
    return r;
}

/* The clock of sim_site: settle, then the writes, once per second. */
static void run(struct simc_cluster *c, int64_t from_ms, int64_t to_ms)
{
    for (int64_t t = from_ms + 1000; t <= to_ms; t += 1000) {
        simc_settle(c, t);
        simc_advance(c, 1000);
    }
}

static void expect_status(const cJSON *st, int code, const char *reason, const char *message)
{
    if (strcmp(str_at(st, "kind"), "Status") != 0 || count_at(st, "code") != code ||
        strcmp(str_at(st, "reason"), reason) != 0 || strcmp(str_at(st, "message"), message) != 0)
        fail_msg("want %d %s \"%s\", got %d %s \"%s\"", code, reason, message, count_at(st, "code"),
                 str_at(st, "reason"), str_at(st, "message"));
}

/* ---- pods over simulated time ---- */

static void scale_up_is_ready_only_after_the_ready_delay(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    assert_true(web_rolled_out(&c, 0)); /* the scenario's cluster is up */
    cJSON *o = call(&c, 0, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":{\"replicas\":4}}", 200);
    assert_string_equal(str_at(o, "kind"), "Scale");
    assert_string_equal(str_at(o, "apiVersion"), "autoscaling/v1");
    assert_int_equal(count_at(o, "spec.replicas"), 4);
    assert_int_equal(count_at(o, "status.replicas"), 4); /* created at once */
    assert_string_equal(str_at(o, "status.selector"), "app=web");
    cJSON_Delete(o);

    o = call(&c, 0, "GET", DEP "/web", NULL, NULL, 200);
    assert_int_equal(count_at(o, "metadata.generation"), 2);
    assert_int_equal(count_at(o, "status.observedGeneration"), 2);
    assert_int_equal(count_at(o, "status.replicas"), 4);
    assert_int_equal(count_at(o, "status.updatedReplicas"), 4);
    assert_int_equal(count_at(o, "status.readyReplicas"), 2);
    assert_int_equal(count_at(o, "status.availableReplicas"), 2);
    assert_int_equal(count_at(o, "status.unavailableReplicas"), 2);
    assert_false(rolled_out(o));
    cJSON_Delete(o);

    run(&c, 0, 9000);
    assert_false(web_rolled_out(&c, 9000));
    run(&c, 9000, SIMC_READY_DELAY_MS);
    o = call(&c, 10000, "GET", DEP "/web", NULL, NULL, 200);
    assert_true(rolled_out(o));
    assert_int_equal(count_at(o, "status.readyReplicas"), 4);
    assert_null(at(o, "status.unavailableReplicas"));
    cJSON_Delete(o);
    simc_clear(&c);
}

static void scale_down_is_done_only_after_the_stop_delay(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON_Delete(call(&c, 0, "PATCH", STS "/db/scale", MERGE, "{\"spec\":{\"replicas\":0}}", 200));
    struct simc_workload *db = simc_workload_find(simc_ns_find(&c, "shop"), SIMC_STATEFULSET, "db");
    assert_int_equal(db->pods, 1);
    assert_int_equal(db->ready, 1);
    assert_false(simc_workload_ready(db));
    run(&c, 0, SIMC_STOP_DELAY_MS - 1000);
    assert_false(simc_workload_ready(db));
    run(&c, SIMC_STOP_DELAY_MS - 1000, SIMC_STOP_DELAY_MS);
    assert_true(simc_workload_ready(db));
    cJSON *o = call(&c, SIMC_STOP_DELAY_MS, "GET", STS "/db", NULL, NULL, 200);
    /* A StatefulSet always prints replicas and availableReplicas. */
    assert_true(cJSON_IsNumber(at(o, "status.replicas")));
    assert_int_equal(count_at(o, "status.replicas"), 0);
    assert_true(cJSON_IsNumber(at(o, "status.availableReplicas")));
    assert_null(at(o, "status.readyReplicas"));
    cJSON_Delete(o);
    simc_clear(&c);
}

static void delays_come_from_the_scenario_and_sim_set(void **state)
{
    (void)state;
    struct simc_cluster c;
    simc_init(&c, "x");
    cJSON *v = cJSON_Parse("{\"ready_delay_s\": 3, \"stop_delay_s\": 0.5, \"terminate_delay_s\": 7,"
                           " \"namespaces\": [{\"name\": \"a\", \"deployments\": [{\"name\": \"w\","
                           " \"replicas\": 0}]}]}");
    char err[300];
    assert_int_equal(simc_parse_scenario(&c, v, "cluster", err, sizeof err), 0);
    cJSON_Delete(v);
    assert_int_equal(c.ready_delay_ms, 3000);
    assert_int_equal(c.stop_delay_ms, 500);
    assert_int_equal(c.terminate_delay_ms, 7000);
    struct simc_namespace *ns = simc_ns_find(&c, "a");
    struct simc_workload *w = &ns->workloads[0];
    assert_int_equal(simc_workload_set_spec(&c, ns, w, 1, NULL, 0), 0);
    simc_settle(&c, 2000);
    assert_false(simc_workload_ready(w));
    simc_settle(&c, 3000);
    assert_true(simc_workload_ready(w));

    v = cJSON_Parse("{\"ready_delay_s\": -1}");
    assert_int_equal(simc_parse_scenario(&c, v, "cluster", err, sizeof err), -1);
    assert_string_equal(err, "cluster.ready_delay_s: expected a number of seconds 0..86400");
    cJSON_Delete(v);

    cJSON *n = cJSON_CreateNumber(20);
    assert_true(simc_setting_name("cluster.ready_delay_s"));
    assert_int_equal(simc_setting_check("cluster.ready_delay_s", n, err, sizeof err), 0);
    simc_setting_apply(&c, "cluster.ready_delay_s", n);
    assert_int_equal(c.ready_delay_ms, 20000);
    cJSON_Delete(n);
    simc_clear(&c);
}

static void a_template_change_rolls_out_anew(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON *o = call(&c, 0, "GET", DEP "/web", NULL, NULL, 200);
    cJSON *tmeta = (cJSON *)at(o, "spec.template.metadata");
    cJSON_AddItemToObject(tmeta, "annotations", cJSON_Parse("{\"restarted\": \"1\"}"));
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    o = call(&c, 0, "PUT", DEP "/web", "application/json", body, 200);
    free(body);
    assert_int_equal(count_at(o, "status.updatedReplicas"), 0);
    assert_false(rolled_out(o));
    cJSON_Delete(o);
    run(&c, 0, SIMC_READY_DELAY_MS);
    assert_true(web_rolled_out(&c, SIMC_READY_DELAY_MS));
    simc_clear(&c);
}

/* ---- the write API and its errors ---- */

static void scale_accepts_the_patch_types_and_refuses_others(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON_Delete(call(&c, 0, "PATCH", DEP "/web/scale", "application/strategic-merge-patch+json",
                      "{\"spec\":{\"replicas\":3}}", 200));
    cJSON_Delete(call(&c, 0, "PATCH", DEP "/web/scale", "application/json-patch+json",
                      "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":3},"
                      "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5}]",
                      200));
    struct simc_workload *web =
        simc_workload_find(simc_ns_find(&c, "shop"), SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->replicas, 5);
    cJSON *o = call(&c, 0, "PATCH", DEP "/web/scale", "application/json-patch+json",
                    "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":1}]", 422);
    expect_status(o, 422, "Invalid", "testing value /spec/replicas failed");
    cJSON_Delete(o);
    /* merge-patch with a charset parameter is still merge-patch. */
    cJSON_Delete(call(&c, 0, "PATCH", DEP "/web/scale", MERGE "; charset=utf-8",
                      "{\"spec\":{\"replicas\":2}}", 200));
    assert_int_equal(web->replicas, 2);

    o = call(&c, 0, "PATCH", DEP "/web/scale", "application/json", "{\"spec\":{\"replicas\":1}}",
             415);
    expect_status(o, 415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types "
                  "include: application/json-patch+json, application/merge-patch+json, "
                  "application/strategic-merge-patch+json");
    cJSON_Delete(o);
    o = call(&c, 0, "PATCH", DEP "/web/scale", NULL, "{}", 415);
    cJSON_Delete(o);
    o = call(&c, 0, "PUT", DEP "/web/scale", "text/plain", "{}", 415);
    cJSON_Delete(o);
    assert_int_equal(web->replicas, 2);

    o = call(&c, 0, "PATCH", DEP "/nope/scale", MERGE, "{\"spec\":{\"replicas\":1}}", 404);
    expect_status(o, 404, "NotFound", "deployments.apps \"nope\" not found");
    cJSON_Delete(o);
    o = call(&c, 0, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":", 400);
    assert_string_equal(str_at(o, "reason"), "BadRequest");
    cJSON_Delete(o);
    o = call(&c, 0, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":{\"replicas\":\"two\"}}", 400);
    assert_string_equal(str_at(o, "reason"), "BadRequest");
    assert_non_null(strstr(str_at(o, "message"), "cannot be handled as a Scale"));
    cJSON_Delete(o);
    simc_clear(&c);
}

static void negative_replicas_are_invalid_with_causes(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON *o = call(&c, 0, "PATCH", STS "/db/scale", MERGE, "{\"spec\":{\"replicas\":-1}}", 422);
    expect_status(o, 422, "Invalid",
                  "Scale.autoscaling \"db\" is invalid: spec.replicas: Invalid value: -1: must be "
                  "greater than or equal to 0");
    char *details = cJSON_PrintUnformatted(at(o, "details"));
    assert_string_equal(details,
                        "{\"name\":\"db\",\"group\":\"autoscaling\",\"kind\":\"Scale\",\"causes\":"
                        "[{\"reason\":\"FieldValueInvalid\",\"message\":\"Invalid value: -1: must "
                        "be greater than or equal to 0\",\"field\":\"spec.replicas\"}]}");
    free(details);
    cJSON_Delete(o);
    o = call(&c, 0, "PUT", DEP "/web", "application/json",
             "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":-3}}", 422);
    expect_status(o, 422, "Invalid",
                  "Deployment.apps \"web\" is invalid: spec.replicas: Invalid value: -3: must be "
                  "greater than or equal to 0");
    cJSON_Delete(o);
    assert_int_equal(simc_ns_find(&c, "shop")->workloads[0].replicas, 2);
    simc_clear(&c);
}

static void a_stale_put_is_a_conflict(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON *o = call(&c, 0, "GET", DEP "/web", NULL, NULL, 200);
    cJSON_ReplaceItemInObject((cJSON *)at(o, "spec"), "replicas", cJSON_CreateNumber(3));
    char *body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* Someone else writes first. */
    cJSON_Delete(call(&c, 0, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":{\"replicas\":1}}", 200));
    o = call(&c, 0, "PUT", DEP "/web", "application/json", body, 409);
    expect_status(o, 409, "Conflict",
                  "Operation cannot be fulfilled on deployments.apps \"web\": the object has been "
                  "modified; please apply your changes to the latest version and try again");
    char *details = cJSON_PrintUnformatted(at(o, "details"));
    assert_string_equal(details, "{\"name\":\"web\",\"group\":\"apps\",\"kind\":\"deployments\"}");
    free(details);
    cJSON_Delete(o);
    free(body);
    struct simc_workload *web =
        simc_workload_find(simc_ns_find(&c, "shop"), SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->replicas, 1);

    /* With the current version it goes through. */
    o = call(&c, 0, "GET", DEP "/web", NULL, NULL, 200);
    cJSON_ReplaceItemInObject((cJSON *)at(o, "spec"), "replicas", cJSON_CreateNumber(3));
    body = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    o = call(&c, 0, "PUT", DEP "/web", NULL, body, 200);
    free(body);
    assert_int_equal(count_at(o, "spec.replicas"), 3);
    assert_string_equal(str_at(o, "metadata.labels.role"), "front");
    cJSON_Delete(o);
    /* A stale version in a scale patch is a conflict too. */
    o = call(&c, 0, "PATCH", DEP "/web/scale", MERGE,
             "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":0}}", 409);
    assert_string_equal(str_at(o, "reason"), "Conflict");
    cJSON_Delete(o);
    assert_int_equal(web->replicas, 3);
    /* The name in the body must be the URL's. */
    o = call(&c, 0, "PUT", DEP "/web", NULL, "{\"metadata\":{\"name\":\"other\"}}", 400);
    expect_status(o, 400, "BadRequest",
                  "the name of the object (other) does not match the name on the URL (web)");
    cJSON_Delete(o);
    simc_clear(&c);
}

static void creates_answer_as_the_api_server(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON *o = call(&c, 0, "POST", "/api/v1/namespaces", "application/json",
                    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"new\","
                    "\"labels\":{\"a\":\"b\"}}}",
                    201);
    assert_string_equal(str_at(o, "status.phase"), "Active");
    const cJSON *nsname =
        cJSON_GetObjectItemCaseSensitive(at(o, "metadata.labels"), "kubernetes.io/metadata.name");
    assert_string_equal(cJSON_GetStringValue(nsname), "new");
    cJSON_Delete(o);
    o = call(&c, 0, "POST", "/api/v1/namespaces", NULL, "{\"metadata\":{\"name\":\"new\"}}", 409);
    expect_status(o, 409, "AlreadyExists", "namespaces \"new\" already exists");
    cJSON_Delete(o);
    o = call(&c, 0, "POST", "/api/v1/namespaces", NULL, "{\"metadata\":{\"name\":\"Bad_Name\"}}",
             422);
    assert_string_equal(str_at(o, "reason"), "Invalid");
    assert_string_equal(str_at(cJSON_GetArrayItem(at(o, "details.causes"), 0), "field"),
                        "metadata.name");
    cJSON_Delete(o);

    o = call(&c, 0, "POST", "/apis/apps/v1/namespaces/new/deployments", NULL,
             "{\"metadata\":{\"name\":\"api\"},\"spec\":{\"replicas\":2}}", 201);
    assert_string_equal(str_at(o, "kind"), "Deployment");
    assert_false(rolled_out(o)); /* its pods start now */
    cJSON_Delete(o);
    o = call(&c, 0, "POST", "/apis/apps/v1/namespaces/new/deployments", NULL,
             "{\"metadata\":{\"name\":\"api\"}}", 409);
    expect_status(o, 409, "AlreadyExists", "deployments.apps \"api\" already exists");
    cJSON_Delete(o);
    o = call(&c, 0, "POST", "/apis/apps/v1/namespaces/ghost/statefulsets", NULL,
             "{\"metadata\":{\"name\":\"db\"}}", 404);
    expect_status(o, 404, "NotFound", "namespaces \"ghost\" not found");
    cJSON_Delete(o);
    simc_clear(&c);
}

/* ---- namespace deletion ---- */

static void a_deleted_namespace_terminates_then_goes(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    assert_true(simc_running_kw(&c) == 50);
    cJSON *o = call(&c, 1000, "DELETE", "/api/v1/namespaces/shop", NULL, NULL, 200);
    assert_string_equal(str_at(o, "kind"), "Namespace");
    assert_string_equal(str_at(o, "status.phase"), "Terminating");
    assert_string_equal(str_at(o, "metadata.deletionTimestamp"), "2026-01-01T00:00:01Z");
    cJSON_Delete(o);
    /* Its kW leave the IT load at once. */
    assert_true(simc_running_kw(&c) == 10);
    /* A second delete answers the object again, as today's API server. */
    o = call(&c, 2000, "DELETE", "/api/v1/namespaces/shop", NULL, NULL, 200);
    assert_string_equal(str_at(o, "status.phase"), "Terminating");
    assert_string_equal(str_at(o, "metadata.deletionTimestamp"), "2026-01-01T00:00:01Z");
    cJSON_Delete(o);
    o = call(&c, 2000, "GET", "/api/v1/namespaces/shop", NULL, NULL, 200);
    assert_string_equal(str_at(o, "status.phase"), "Terminating");
    cJSON_Delete(o);

    /* No new content while it terminates. */
    o = call(&c, 2000, "POST", DEP, NULL, "{\"metadata\":{\"name\":\"api\"}}", 403);
    expect_status(o, 403, "Forbidden",
                  "deployments.apps \"api\" is forbidden: unable to create new content in "
                  "namespace shop because it is being terminated");
    cJSON_Delete(o);
    /* Nor through a restore. */
    struct simc_snapshot snap;
    assert_int_equal(simc_ns_snapshot(simc_ns_find(&c, "shop"), &snap), 0);
    struct simc_restore_result res;
    enum simc_err why;
    char err[300];
    assert_int_equal(simc_ns_restore(&c, &snap, 2000, &res, &why, err, sizeof err), -1);
    assert_int_equal(why, SIMC_ERR_TERMINATING);

    run(&c, 2000, 1000 + SIMC_TERMINATE_DELAY_MS - 1000);
    assert_non_null(simc_ns_find(&c, "shop"));
    run(&c, SIMC_TERMINATE_DELAY_MS, 1000 + SIMC_TERMINATE_DELAY_MS);
    assert_null(simc_ns_find(&c, "shop"));
    o = call(&c, 6000, "DELETE", "/api/v1/namespaces/shop", NULL, NULL, 404);
    expect_status(o, 404, "NotFound", "namespaces \"shop\" not found");
    cJSON_Delete(o);
    o = call(&c, 6000, "GET", DEP, NULL, NULL, 200);
    assert_int_equal(cJSON_GetArraySize(at(o, "items")), 0);
    cJSON_Delete(o);

    /* Gone, it can be restored. */
    assert_int_equal(simc_ns_restore_snapshot(&c, &snap, 6000, &res, &why, err, sizeof err), 0);
    assert_true(res.ns_created);
    simc_snapshot_free(&snap);
    simc_clear(&c);
}

/* ---- data versions ---- */

static void writes_follow_running_unquiesced_pods(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    struct simc_namespace *shop = simc_ns_find(&c, "shop");
    run(&c, 0, 5000);
    assert_int_equal(shop->data_version, 5);
    assert_int_equal(simc_ns_find(&c, "batch")->data_version, 0); /* stateless */
    shop->quiesced = true;                                        /* a backup's pre-hook */
    run(&c, 5000, 8000);
    assert_int_equal(shop->data_version, 5);
    /* Scaled to 0, the pods stop after the stop delay; started again they
     * write again: new pods are not quiesced. */
    cJSON_Delete(
        call(&c, 8000, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":{\"replicas\":0}}", 200));
    cJSON_Delete(
        call(&c, 8000, "PATCH", STS "/db/scale", MERGE, "{\"spec\":{\"replicas\":0}}", 200));
    run(&c, 8000, 12000);
    assert_int_equal(simc_ns_pods(shop), 0);
    assert_true(shop->quiesced);
    cJSON_Delete(
        call(&c, 12000, "PATCH", STS "/db/scale", MERGE, "{\"spec\":{\"replicas\":1}}", 200));
    assert_false(shop->quiesced);
    assert_false(simc_ns_writing(shop)); /* not before the pod is up */
    run(&c, 12000, 12000 + SIMC_READY_DELAY_MS);
    assert_true(simc_ns_writing(shop));
    uint64_t v = shop->data_version;
    run(&c, 22000, 25000);
    assert_int_equal(shop->data_version, v + 3);

    /* Unquiesced pods scaled to 0 keep writing until they are gone. */
    cJSON_Delete(
        call(&c, 25000, "PATCH", STS "/db/scale", MERGE, "{\"spec\":{\"replicas\":0}}", 200));
    run(&c, 25000, 25000 + SIMC_STOP_DELAY_MS);
    assert_int_equal(shop->data_version, v + 3 + SIMC_STOP_DELAY_MS / 1000 - 1);
    assert_false(simc_ns_writing(shop));
    simc_clear(&c);
}

static void a_never_ready_namespace_never_rolls_out(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    cJSON *v = cJSON_CreateString("shop");
    char err[200];
    assert_int_equal(simc_setting_check("cluster.never_ready", v, err, sizeof err), 0);
    simc_setting_apply(&c, "cluster.never_ready", v);
    cJSON_Delete(v);
    cJSON_Delete(call(&c, 0, "PATCH", DEP "/web/scale", MERGE, "{\"spec\":{\"replicas\":3}}", 200));
    run(&c, 0, 60000);
    struct simc_workload *web =
        simc_workload_find(simc_ns_find(&c, "shop"), SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->pods, 3);
    assert_int_equal(web->ready, 2);
    assert_false(simc_workload_ready(web));
    v = cJSON_CreateNull();
    simc_setting_apply(&c, "cluster.never_ready", v);
    cJSON_Delete(v);
    run(&c, 60000, 61000);
    assert_true(simc_workload_ready(web));

    v = cJSON_CreateString("Not A Name");
    assert_int_equal(simc_setting_check("cluster.never_ready", v, err, sizeof err), -1);
    assert_non_null(strstr(err, "cluster.never_ready: \"Not A Name\": a lowercase RFC 1123 label"));
    cJSON_Delete(v);
    simc_clear(&c);
}

/* ---- snapshots and restores ---- */

static void a_snapshot_round_trips_and_restores(void **state)
{
    (void)state;
    struct simc_cluster src, dst;
    build(&src);
    simc_init(&dst, "target");
    run(&src, 0, 7000);
    struct simc_snapshot snap, back;
    assert_int_equal(simc_ns_snapshot(simc_ns_find(&src, "shop"), &snap), 0);
    assert_int_equal(snap.data_version, 7);
    assert_true(snap.has_data);
    cJSON *j = simc_snapshot_to_json(&snap);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    j = cJSON_Parse(text);
    char err[400];
    assert_int_equal(simc_snapshot_from_json(&back, j, "backup", err, sizeof err), 0);
    cJSON_Delete(j);
    cJSON *j2 = simc_snapshot_to_json(&back);
    char *text2 = cJSON_PrintUnformatted(j2);
    assert_string_equal(text, text2);
    cJSON_Delete(j2);
    free(text);
    free(text2);

    struct simc_restore_result res;
    enum simc_err why;
    assert_int_equal(simc_ns_restore_snapshot(&dst, &back, 1000, &res, &why, err, sizeof err), 0);
    assert_true(res.ns_created);
    assert_int_equal(res.created, 2);
    struct simc_namespace *ns = simc_ns_find(&dst, "shop");
    assert_int_equal(ns->data_version, 7);
    assert_string_equal(simc_map_get(&ns->meta.annotations, "floe.dev/power-kw"), "40");
    struct simc_workload *web = simc_workload_find(ns, SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->replicas, 2);
    assert_string_equal(simc_map_get(&web->meta.labels, "role"), "front");
    assert_false(simc_workload_ready(web)); /* pods start */
    run(&dst, 1000, 1000 + SIMC_READY_DELAY_MS);
    assert_true(simc_workload_ready(web));

    /* Into an existing namespace: it and its data stay; only missing
     * workloads are created. */
    ns->data_version = 100;
    assert_int_equal(simc_ns_restore_snapshot(&dst, &back, 20000, &res, &why, err, sizeof err), -1);
    assert_int_equal(why, SIMC_ERR_EXISTS);
    ns->nworkloads = 1; /* drop the StatefulSet (last) the hard way */
    simc_map_clear(&ns->workloads[1].meta.labels);
    simc_map_clear(&ns->workloads[1].meta.annotations);
    simc_map_clear(&ns->workloads[1].pod_annotations);
    assert_int_equal(simc_ns_restore(&dst, &back, 20000, &res, &why, err, sizeof err), 0);
    assert_false(res.ns_created);
    assert_int_equal(res.created, 1);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(simc_ns_find(&dst, "shop")->data_version, 100);

    /* A backup without the pods running holds no data. */
    simc_snapshot_free(&back);
    back = snap;
    memset(&snap, 0, sizeof snap);
    back.has_data = false;
    simc_ns_remove(&dst, "shop");
    assert_int_equal(simc_ns_restore(&dst, &back, 30000, &res, &why, err, sizeof err), 0);
    assert_int_equal(simc_ns_find(&dst, "shop")->data_version, 0);
    simc_snapshot_free(&back);
    simc_clear(&src);
    simc_clear(&dst);
}

static void bad_snapshot_json_names_its_path(void **state)
{
    (void)state;
    static const struct {
        const char *json, *err;
    } cases[] = {
        {"{\"name\":\"a\",\"data_version\":1,\"has_data\":true,\"extra\":1}",
         "b.extra: unknown key"},
        {"{\"data_version\":1,\"has_data\":true}", "b.name: missing"},
        {"{\"name\":\"a\",\"has_data\":true}", "b.data_version: missing"},
        {"{\"name\":\"a\",\"data_version\":-1,\"has_data\":true}",
         "b.data_version: expected a whole number 0..2^53"},
        {"{\"name\":\"a\",\"data_version\":1,\"has_data\":1}",
         "b.has_data: expected true or false"},
        {"{\"name\":\"a\",\"data_version\":1,\"has_data\":true,\"labels\":{\"k\":1}}",
         "b.labels[\"k\"]: expected a string"},
        {"{\"name\":\"a\",\"data_version\":1,\"has_data\":true,\"deployments\":[{\"name\":\"w\"}]}",
         "b.deployments[0].replicas: missing"},
        {"{\"name\":\"a\",\"data_version\":1,\"has_data\":true,\"statefulsets\":[{\"name\":\"w\","
         "\"replicas\":1},{\"name\":\"w\",\"replicas\":1}]}",
         "b.statefulsets[1]: duplicate name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *v = cJSON_Parse(cases[i].json);
        struct simc_snapshot s;
        char err[400];
        assert_non_null(v);
        if (simc_snapshot_from_json(&s, v, "b", err, sizeof err) != -1 ||
            strcmp(err, cases[i].err) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].json, err, cases[i].err);
        cJSON_Delete(v);
    }
}

/* ---- faults, groups, /sim/set, /sim/cluster ---- */

static void faults_fail_then_recover(void **state)
{
    (void)state;
    struct sim_kube_faults f = {0};
    char err[200], *body;
    cJSON *n = cJSON_CreateNumber(2);
    assert_true(sim_kube_fault_name("kube.fail_next"));
    assert_false(sim_kube_fault_name("kube.other"));
    assert_int_equal(sim_kube_fault_check("kube.fail_next", n, err, sizeof err), 0);
    sim_kube_fault_apply(&f, "kube.fail_next", n, 0);
    cJSON_Delete(n);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(sim_kube_fault_fail(&f, &body), 500);
        cJSON *st = cJSON_Parse(body);
        expect_status(st, 500, "InternalError",
                      "Internal error occurred: floe-sim: injected fault (kube.fail_next)");
        cJSON_Delete(st);
        free(body);
    }
    assert_int_equal(sim_kube_fault_fail(&f, &body), 0);
    assert_null(body);

    cJSON *t = cJSON_CreateTrue(), *fl = cJSON_CreateFalse(), *secs = cJSON_CreateNumber(30);
    sim_kube_fault_apply(&f, "kube.hang", t, 1000);
    assert_true(sim_kube_fault_hanging(&f, 1e12));
    sim_kube_fault_apply(&f, "kube.hang", fl, 1000);
    assert_false(sim_kube_fault_hanging(&f, 1000));
    sim_kube_fault_apply(&f, "kube.hang", secs, 1000);
    assert_true(sim_kube_fault_hanging(&f, 30999));
    assert_false(sim_kube_fault_hanging(&f, 31000));
    cJSON *bad = cJSON_CreateString("yes");
    assert_int_equal(sim_kube_fault_check("kube.hang", bad, err, sizeof err), -1);
    assert_string_equal(
        err, "kube.hang: expected true, false or a number of simulated seconds 0..86400");
    cJSON_Delete(bad);
    cJSON_Delete(t);
    cJSON_Delete(fl);
    cJSON_Delete(secs);
}

static int group_calls;

static int velero_stub(void *arg, struct simc_cluster *c, const struct sim_kube_request *req,
                       char **body)
{
    (void)c;
    group_calls++;
    assert_string_equal((const char *)arg, "velero");
    *body = strdup(req->path);
    return 299;
}

static void other_groups_go_to_their_handler_after_the_token(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    snprintf(c.token, sizeof c.token, "tok");
    const struct sim_kube_group groups[] = {{"/apis/velero.io/", velero_stub, "velero"}};
    struct sim_kube_request req = {.method = "GET",
                                   .path = "/apis/velero.io/v1/namespaces/velero/backups",
                                   .authorization = "Bearer tok",
                                   .groups = groups,
                                   .ngroups = 1};
    char *body;
    assert_int_equal(sim_kube_handle(&c, &req, &body), 299);
    assert_string_equal(body, "/apis/velero.io/v1/namespaces/velero/backups");
    free(body);
    req.path = "/apis/velero.io";
    assert_int_equal(sim_kube_handle(&c, &req, &body), 299);
    free(body);
    req.authorization = NULL;
    assert_int_equal(sim_kube_handle(&c, &req, &body), 401);
    free(body);
    req.authorization = "Bearer tok";
    req.path = "/apis/velero.iox/v1";
    assert_int_equal(sim_kube_handle(&c, &req, &body), 404);
    free(body);
    assert_int_equal(group_calls, 2);
    simc_clear(&c);
}

/* A /sim/set extension that records what it is given. */
static bool ext_owns(void *arg, const char *name)
{
    (void)arg;
    return strncmp(name, "kube.", 5) == 0;
}

static int ext_check(void *arg, const char *name, const cJSON *v, char *err, size_t errlen)
{
    (void)arg;
    return sim_kube_fault_check(name, v, err, errlen);
}

static void ext_apply(void *arg, const char *name, const cJSON *v)
{
    sim_kube_fault_apply(arg, name, v, 0);
}

static void sim_set_takes_extension_names_all_or_nothing(void **state)
{
    (void)state;
    struct sim_model m;
    sim_model_init(&m);
    m.it_base_kw = 100;
    struct sim_kube_faults f = {0};
    const struct sim_api_ext ext = {ext_owns, ext_check, ext_apply, &f};
    enum sim_api_error why;
    char err[200];
    const char *bad = "{\"it.base_kw\": 300, \"kube.fail_next\": 3, \"kube.hang\": \"x\"}";
    assert_int_equal(sim_api_set(&m, &ext, 1, bad, strlen(bad), &why, err, sizeof err), -1);
    assert_int_equal(why, SIM_API_BAD_VALUE);
    assert_true(m.it_base_kw == 100);
    assert_int_equal(f.fail_next, 0);
    const char *good = "{\"it.base_kw\": 300, \"kube.fail_next\": 3, \"kube.hang\": true}";
    assert_int_equal(sim_api_set(&m, &ext, 1, good, strlen(good), &why, err, sizeof err), 0);
    assert_true(m.it_base_kw == 300);
    assert_int_equal(f.fail_next, 3);
    assert_true(sim_kube_fault_hanging(&f, 0));
    /* Without the extension the name is unknown. */
    assert_int_equal(sim_api_set(&m, NULL, 0, good, strlen(good), &why, err, sizeof err), -1);
    assert_int_equal(why, SIM_API_UNKNOWN_VALUE);
}

static void cluster_state_shows_what_a_test_needs(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    run(&c, 0, 3000);
    simc_ns_find(&c, "shop")->quiesced = true;
    char *text = simc_state_json(&c, 3000);
    cJSON *o = cJSON_Parse(text);
    free(text);
    assert_int_equal(count_at(o, "time_s"), 3);
    assert_int_equal(count_at(o, "it_cluster_kw"), 50);
    const cJSON *shop = cJSON_GetArrayItem(at(o, "namespaces"), 1);
    assert_string_equal(str_at(shop, "name"), "shop");
    assert_string_equal(str_at(shop, "phase"), "Active");
    assert_true(cJSON_IsTrue(at(shop, "running")));
    assert_int_equal(count_at(shop, "data_version"), 3);
    assert_false(cJSON_IsTrue(at(shop, "writing")));
    assert_true(cJSON_IsTrue(at(shop, "quiesced")));
    assert_int_equal(count_at(shop, "kw"), 40);
    assert_int_equal(count_at(shop, "pods"), 3);
    const cJSON *web = cJSON_GetArrayItem(at(shop, "workloads"), 0);
    assert_string_equal(str_at(web, "kind"), "Deployment");
    assert_true(cJSON_IsTrue(at(web, "rolled_out")));
    cJSON_Delete(o);
    simc_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scale_up_is_ready_only_after_the_ready_delay),
        cmocka_unit_test(scale_down_is_done_only_after_the_stop_delay),
        cmocka_unit_test(delays_come_from_the_scenario_and_sim_set),
        cmocka_unit_test(a_template_change_rolls_out_anew),
        cmocka_unit_test(scale_accepts_the_patch_types_and_refuses_others),
        cmocka_unit_test(negative_replicas_are_invalid_with_causes),
        cmocka_unit_test(a_stale_put_is_a_conflict),
        cmocka_unit_test(creates_answer_as_the_api_server),
        cmocka_unit_test(a_deleted_namespace_terminates_then_goes),
        cmocka_unit_test(writes_follow_running_unquiesced_pods),
        cmocka_unit_test(a_never_ready_namespace_never_rolls_out),
        cmocka_unit_test(a_snapshot_round_trips_and_restores),
        cmocka_unit_test(bad_snapshot_json_names_its_path),
        cmocka_unit_test(faults_fail_then_recover),
        cmocka_unit_test(other_groups_go_to_their_handler_after_the_token),
        cmocka_unit_test(sim_set_takes_extension_names_all_or_nothing),
        cmocka_unit_test(cluster_state_shows_what_a_test_needs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
