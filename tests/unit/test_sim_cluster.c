/*
 * test_sim_cluster — the simulated Kubernetes cluster: label selectors and
 * name rules (sim/sim_labels.c), the objects and their versions
 * (sim/sim_cluster.c), the link to the facility's IT load, and the API's
 * answers as a client sees them (sim/sim_kube.c): list and object shapes,
 * Status errors, authentication.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_cluster.h"
#include "sim/sim_cluster_edit.h"
#include "sim/sim_kube.h"
#include "sim/sim_labels.h"
#include "sim/sim_model.h"
#include "sim/sim_scenario.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-01T00:00:00Z: simulated time 0 of the test clusters. */
#define EPOCH_MS 1767225600000LL

static const char *const shop_cluster =
    "{\"token\": \"tok-1\", \"namespaces\": ["
    " {\"name\": \"shop\", \"labels\": {\"floe.dev/movable\": \"true\", \"tier\": \"gold\"},"
    "  \"annotations\": {\"floe.dev/power-kw\": \"40\", \"floe.dev/data-gb\": \"37\","
    "                   \"floe.dev/quiesce\": \"[\\\"/bin/sh\\\",\\\"-c\\\",\\\"sync\\\"]\"},"
    "  \"deployments\": [{\"name\": \"web\", \"replicas\": 2, \"labels\": {\"role\": \"front\"},"
    "                     \"pod_annotations\": {\"pre.hook.backup.velero.io/command\": "
    "\"[\\\"/bin/true\\\"]\"}},"
    "                    {\"name\": \"cache\", \"replicas\": 0}],"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 1}]},"
    " {\"name\": \"batch\", \"labels\": {\"floe.dev/movable\": \"false\"},"
    "  \"annotations\": {\"floe.dev/power-kw\": \"15.5\"},"
    "  \"deployments\": [{\"name\": \"worker\"}]},"
    " {\"name\": \"idle\", \"annotations\": {\"floe.dev/power-kw\": \"100\"},"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 0}]}"
    "]}";

static void build(struct simc_cluster *c, const char *json)
{
    simc_init(c, "lulea-1");
    c->epoch_ms = EPOCH_MS;
    cJSON *v = cJSON_Parse(json);
    assert_non_null(v);
    char err[512];
    if (simc_parse_scenario(c, v, "cluster", err, sizeof err) < 0)
        fail_msg("%s", err);
    cJSON_Delete(v);
}

/* A request with the right token; the parsed answer (caller deletes),
 * after checking its status. */
static cJSON *request(struct simc_cluster *c, const char *method, const char *path,
                      const char *selector, const char *auth, int want_status)
{
    struct sim_kube_request req = {
        .method = method, .path = path, .label_selector = selector, .authorization = auth};
    char *body = NULL;
    int status = sim_kube_handle(c, &req, &body);
    if (status != want_status)
        fail_msg("%s %s: status %d, want %d: %s", method, path, status, want_status,
                 body ? body : "(no body)");
    assert_non_null(body);
    cJSON *o = cJSON_Parse(body);
    if (!o)
        fail_msg("%s %s: not JSON: %s", method, path, body);
    free(body);
    return o;
}

static cJSON *get_ok(struct simc_cluster *c, const char *path, const char *selector)
{
    return request(c, "GET", path, selector, "Bearer tok-1", 200);
}

/* The object at a dotted path ("metadata.labels"), NULL when absent. */
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

static double num_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    if (!cJSON_IsNumber(v))
        fail_msg("%s: not a number", path);
    return v->valuedouble;
}

/* Names of a list's items, joined with ",". */
static void item_names(const cJSON *list, char *out, size_t n)
{
    out[0] = '\0';
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItem(list, "items"))
    {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%s", used ? "," : "", str_at(item, "metadata.name"));
    }
}

/* ---- selectors ---- */

static void selectors_match_as_the_api_server_does(void **state)
{
    (void)state;
    struct simc_map labels = {0};
    assert_int_equal(simc_map_set(&labels, "floe.dev/movable", "true"), 0);
    assert_int_equal(simc_map_set(&labels, "tier", "gold"), 0);
    assert_int_equal(simc_map_set(&labels, "size", "5"), 0);
    assert_int_equal(simc_map_set(&labels, "empty", ""), 0);
    static const struct {
        const char *sel;
        bool match;
    } cases[] = {
        {"", true},
        {"floe.dev/movable=true", true},
        {"floe.dev/movable==true", true},
        {"floe.dev/movable=false", false},
        {"floe.dev/movable!=true", false},
        {"floe.dev/movable!=false", true},
        {"absent!=x", true}, /* an absent label is "not equal" */
        {"floe.dev/movable", true},
        {"absent", false},
        {"!absent", true},
        {"!floe.dev/movable", false},
        {"floe.dev/movable=true,tier=gold", true},
        {"floe.dev/movable=true,tier=silver", false}, /* comma is AND */
        {" floe.dev/movable = true ,\ttier==gold ", true},
        {"tier in (silver,gold)", true},
        {"tier in (silver)", false},
        {"tier notin (gold)", false},
        {"absent notin (gold)", true},
        {"tier in (in)", false}, /* "in" as a value is a word */
        {"in=x", false},         /* and as a key */
        {"empty=", true},
        {"empty in ()", true},
        {"size>4", true},
        {"size<5", false},
        {"size>0", true},
        {"tier>1", false}, /* not an integer: no match */
        {"absent<9", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct simc_selector sel;
        char err[256];
        if (simc_selector_parse(&sel, cases[i].sel, err, sizeof err) < 0)
            fail_msg("'%s': %s", cases[i].sel, err);
        if (simc_selector_matches(&sel, &labels) != cases[i].match)
            fail_msg("'%s': match %d, want %d", cases[i].sel, !cases[i].match, cases[i].match);
        simc_selector_free(&sel);
    }
    simc_map_clear(&labels);
}

static void malformed_selectors_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *sel;
        const char *err;
    } cases[] = {
        {"=true", "found '=', expected: !, identifier, or 'end of string'"},
        {"a,", "found '', expected: identifier after ','"},
        {"a,,b", "found ',', expected: identifier after ','"},
        {"a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"},
        {"a=b c", "found 'c', expected: ',' or 'end of string'"},
        {"a=b=c", "found '=', expected: ',' or 'end of string'"},
        {"!a=b", "found '=', expected: ',' or 'end of string'"},
        {"a===b", "unable to parse requirement: found '=', expected: identifier"},
        {"a in b", "unable to parse requirement: found 'b' expected: '('"},
        {"a in (b", "unable to parse requirement: found '', expected: ',' or ')'"},
        {"a in", "unable to parse requirement: found '' expected: '('"},
        {"-a=b", "unable to parse requirement: key: Invalid value: \"-a\": name part must"},
        {"a/b/c", "key: Invalid value: \"a/b/c\": a qualified name must"},
        {"Example.com/a", "prefix part must be a lowercase RFC 1123 subdomain"},
        {"example.com/", "name part must be non-empty"},
        {"a=-b", "values[0][a]: Invalid value: \"-b\": a valid label must be"},
        {"a=x234567890123456789012345678901234567890123456789012345678901234",
         "must be no more than 63 characters"},
        {"a>x", "for 'Gt', 'Lt' operators, the value must be an integer"},
        {"a<", "for 'Gt', 'Lt' operators, the value must be an integer"},
        {"a>-1", "values[0][a]: Invalid value: \"-1\": a valid label must be"},
        {"!", "unable to parse requirement: found '', expected: identifier"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct simc_selector sel;
        char err[512] = "";
        if (simc_selector_parse(&sel, cases[i].sel, err, sizeof err) == 0) {
            simc_selector_free(&sel);
            fail_msg("'%s' was accepted", cases[i].sel);
        }
        if (!strstr(err, cases[i].err))
            fail_msg("'%s': '%s', want '%s'", cases[i].sel, err, cases[i].err);
        assert_int_equal(sel.n, 0);
    }
}

static void names_follow_kubernetes_rules(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool label_ok, dns_label_ok, qualified_ok;
    } cases[] = {
        {"shop", true, true, true},
        {"shop-2", true, true, true},
        {"Shop", true, false, true},
        {"a_b.c", true, false, true},
        {"-shop", false, false, false},
        {"shop-", false, false, false},
        {"", true, false, false},
        {"floe.dev/movable", false, false, true},
        {"Floe.dev/movable", false, false, false},
        {"floe..dev/x", false, false, false},
        {"x23456789012345678901234567890123456789012345678901234567890123", true, true, true},
        {"x234567890123456789012345678901234567890123456789012345678901234", false, false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *s = cases[i].s;
        if ((simc_label_value_check(s, NULL, 0) == 0) != cases[i].label_ok ||
            (simc_dns_label_check(s, NULL, 0) == 0) != cases[i].dns_label_ok ||
            (simc_qualified_name_check(s, NULL, 0) == 0) != cases[i].qualified_ok)
            fail_msg("'%s': label value %d, DNS label %d, qualified name %d", s,
                     simc_label_value_check(s, NULL, 0) == 0, simc_dns_label_check(s, NULL, 0) == 0,
                     simc_qualified_name_check(s, NULL, 0) == 0);
    }
}

/* ---- objects ---- */

static void objects_get_uids_and_one_version_counter(void **state)
{
    (void)state;
    struct simc_cluster c;
    simc_init(&c, "lulea-1");
    char err[256];
    struct simc_namespace *z = simc_ns_add(&c, "zeta", 0, err, sizeof err);
    assert_non_null(z);
    assert_non_null(simc_ns_add(&c, "alpha", 5000, err, sizeof err));
    /* Listed by name, as the API server lists them. */
    assert_string_equal(c.namespaces[0].meta.name, "alpha");
    assert_string_equal(c.namespaces[1].meta.name, "zeta");
    assert_int_equal(c.namespaces[1].meta.resource_version, 1);
    assert_int_equal(c.namespaces[0].meta.resource_version, 2);
    assert_int_equal(c.namespaces[0].meta.created_ms, 5000);
    assert_string_not_equal(c.namespaces[0].meta.uid, c.namespaces[1].meta.uid);
    assert_int_equal(strlen(c.namespaces[0].meta.uid), 36);
    assert_string_equal(simc_map_get(&c.namespaces[0].meta.labels, SIMC_LABEL_NS_NAME), "alpha");

    assert_null(simc_ns_add(&c, "alpha", 0, err, sizeof err));
    assert_string_equal(err, "namespaces \"alpha\" already exists");
    assert_null(simc_ns_add(&c, "Alpha", 0, err, sizeof err));
    assert_non_null(strstr(err, "namespace name \"Alpha\": a lowercase RFC 1123 label"));

    struct simc_namespace *ns = simc_ns_find(&c, "zeta");
    struct simc_workload *w = simc_workload_add(&c, ns, SIMC_STATEFULSET, "db", 0, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(w->replicas, 1); /* the API's default */
    assert_int_equal(w->generation, 1);
    assert_int_equal(w->meta.resource_version, 3);
    /* A Deployment may share a StatefulSet's name; a second db of a kind not. */
    assert_non_null(simc_workload_add(&c, ns, SIMC_DEPLOYMENT, "db", 0, err, sizeof err));
    assert_null(simc_workload_add(&c, ns, SIMC_STATEFULSET, "db", 0, err, sizeof err));
    assert_string_equal(err, "statefulsets.apps \"db\" already exists");
    assert_int_equal(ns->workloads[0].kind, SIMC_DEPLOYMENT);

    char old_uid[SIMC_UID_LEN];
    snprintf(old_uid, sizeof old_uid, "%s", ns->meta.uid);
    assert_int_equal(simc_ns_remove(&c, "zeta"), 0);
    assert_int_equal(c.resource_version, 5); /* a deletion is a change */
    assert_int_equal(simc_ns_remove(&c, "zeta"), -1);
    ns = simc_ns_add(&c, "zeta", 0, err, sizeof err);
    assert_string_not_equal(ns->meta.uid, old_uid); /* a new object */
    assert_int_equal(ns->nworkloads, 0);

    /* Another site's uids differ. */
    struct simc_cluster other;
    simc_init(&other, "falkenberg-1");
    struct simc_namespace *ons = simc_ns_add(&other, "alpha", 0, err, sizeof err);
    assert_memory_not_equal(ons->meta.uid, c.namespaces[0].meta.uid, 8);
    simc_clear(&other);
    simc_clear(&c);
}

static void clone_is_independent(void **state)
{
    (void)state;
    struct simc_cluster c, copy;
    build(&c, shop_cluster);
    assert_int_equal(simc_clone(&copy, &c), 0);
    struct simc_namespace *ns = simc_ns_find(&copy, "shop");
    assert_int_equal(simc_map_set(&ns->meta.labels, "tier", "bronze"), 0);
    ns->workloads[0].replicas = 9;
    simc_ns_remove(&copy, "idle");
    assert_string_equal(simc_map_get(&simc_ns_find(&c, "shop")->meta.labels, "tier"), "gold");
    assert_int_equal(simc_ns_find(&c, "shop")->workloads[0].replicas, 0); /* cache */
    assert_non_null(simc_ns_find(&c, "idle"));
    assert_string_equal(copy.token, "tok-1");
    simc_clear(&copy);
    simc_clear(&c);
}

/* ---- facility link ---- */

static void running_namespaces_draw_their_power(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    /* shop (40, web and db running) + batch (15.5, worker at the default
     * 1 replica); idle's only workload is at 0. */
    assert_true(simc_running_kw(&c) == 55.5);
    assert_false(simc_ns_running(simc_ns_find(&c, "idle")));
    simc_ns_find(&c, "idle")->workloads[0].replicas = 3;
    assert_true(simc_running_kw(&c) == 155.5);
    struct simc_namespace *shop = simc_ns_find(&c, "shop");
    for (size_t i = 0; i < shop->nworkloads; i++)
        shop->workloads[i].replicas = 0;
    assert_true(simc_running_kw(&c) == 115.5);

    static const struct {
        const char *value;
        double kw;
    } values[] = {
        {"40", 40}, {"0.5", 0.5}, {"1e3", 1000}, {"-5", 0},  {"abc", 0},
        {" 40", 0}, {"40kW", 0},  {"0x10", 0},   {"inf", 0}, {"", 0},
    };
    struct simc_namespace *idle = simc_ns_find(&c, "idle");
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(
            simc_map_set(&idle->meta.annotations, SIMC_ANNOTATION_POWER_KW, values[i].value), 0);
        if (simc_ns_power_kw(idle) != values[i].kw)
            fail_msg("power-kw '%s': %g, want %g", values[i].value, simc_ns_power_kw(idle),
                     values[i].kw);
    }
    simc_map_del(&idle->meta.annotations, SIMC_ANNOTATION_POWER_KW);
    assert_true(simc_ns_power_kw(idle) == 0);
    simc_clear(&c);
}

/* The scenario's cluster adds to it.base_kw, and that heat reaches the
 * room: with 100 kW base + 40 kW shop against 120 kW of cooling the room
 * warms by 20 kW / 1000 kJ/K = 0.02 K/s. */
static void cluster_load_heats_the_room(void **state)
{
    (void)state;
    static const char *const scenario =
        "{\"site\": {\"name\": \"t\"}, \"chillers\": [{\"name\": \"c1\", \"capacity_kw\": 120}],"
        " \"it\": {\"base_kw\": 100}, \"room\": {\"thermal_mass_kj_per_k\": 1000},"
        " \"cluster\": {\"namespaces\": [{\"name\": \"shop\","
        "   \"annotations\": {\"floe.dev/power-kw\": \"40\"},"
        "   \"deployments\": [{\"name\": \"web\", \"replicas\": 2}]}]}}";
    struct sim_scenario sc;
    char err[512];
    if (sim_scenario_parse(&sc, "t.json", scenario, strlen(scenario), err, sizeof err) < 0)
        fail_msg("%s", err);
    double load;
    assert_int_equal(sim_model_get(&sc.model, "it.load_kw", &load, err, sizeof err), 0);
    assert_true(load == 140);
    for (int i = 0; i < 100; i++)
        sim_model_step(&sc.model);
    assert_true(fabs(sc.model.room_inlet_c - 24.0) < 1e-9);
    assert_true(fabs(sc.model.it_energy_kwh - 140.0 * 100 / 3600) < 1e-9);

    /* Scaled to 0 (what the site does after /sim/cluster): 100 kW of load
     * under 120 kW of cooling pulls the room back to its setpoint. */
    static const char body[] = "{\"patch\": {\"shop\": {\"deployments\": {\"web\": "
                               "{\"replicas\": 0}}}}}";
    enum simc_edit_error why;
    assert_int_equal(simc_edit(&sc.cluster, body, strlen(body), 0, &why, err, sizeof err), 0);
    sc.model.it_cluster_kw = simc_running_kw(&sc.cluster);
    assert_true(sim_model_it_load_kw(&sc.model) == 100);
    for (int i = 0; i < 100; i++)
        sim_model_step(&sc.model);
    assert_true(fabs(sc.model.room_inlet_c - 22.0) < 1e-9);
    sim_scenario_clear(&sc);
}

/* ---- the API ---- */

static void namespace_list_has_the_api_shape(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    cJSON *list = get_ok(&c, "/api/v1/namespaces", NULL);
    assert_string_equal(str_at(list, "kind"), "NamespaceList");
    assert_string_equal(str_at(list, "apiVersion"), "v1");
    char rv[24];
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)c.resource_version);
    assert_string_equal(str_at(list, "metadata.resourceVersion"), rv);
    char names[256];
    item_names(list, names, sizeof names);
    assert_string_equal(names, "batch,idle,shop");

    const cJSON *shop = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 2);
    /* List items carry no kind or apiVersion. */
    assert_null(cJSON_GetObjectItem(shop, "kind"));
    assert_null(cJSON_GetObjectItem(shop, "apiVersion"));
    const struct simc_namespace *ns = simc_ns_find(&c, "shop");
    assert_string_equal(str_at(shop, "metadata.uid"), ns->meta.uid);
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)ns->meta.resource_version);
    assert_string_equal(str_at(shop, "metadata.resourceVersion"), rv);
    assert_string_equal(str_at(shop, "metadata.creationTimestamp"), "2026-01-01T00:00:00Z");
    assert_null(at(shop, "metadata.namespace"));
    const cJSON *labels = at(shop, "metadata.labels");
    assert_int_equal(cJSON_GetArraySize(labels), 3);
    assert_string_equal(cJSON_GetObjectItem(labels, "floe.dev/movable")->valuestring, "true");
    assert_string_equal(cJSON_GetObjectItem(labels, "kubernetes.io/metadata.name")->valuestring,
                        "shop");
    const cJSON *ann = at(shop, "metadata.annotations");
    assert_string_equal(cJSON_GetObjectItem(ann, "floe.dev/power-kw")->valuestring, "40");
    assert_string_equal(cJSON_GetObjectItem(ann, "floe.dev/quiesce")->valuestring,
                        "[\"/bin/sh\",\"-c\",\"sync\"]");
    assert_string_equal(str_at(shop, "status.phase"), "Active");
    assert_string_equal(cJSON_GetArrayItem(at(shop, "spec.finalizers"), 0)->valuestring,
                        "kubernetes");
    /* No annotations: the key is left out, as Kubernetes does. */
    const cJSON *batch = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
    assert_non_null(at(batch, "metadata.annotations"));
    cJSON_Delete(list);

    cJSON *one = get_ok(&c, "/api/v1/namespaces/shop", NULL);
    assert_string_equal(str_at(one, "kind"), "Namespace");
    assert_string_equal(str_at(one, "apiVersion"), "v1");
    assert_string_equal(str_at(one, "metadata.name"), "shop");
    assert_string_equal(str_at(one, "status.phase"), "Active");
    cJSON_Delete(one);

    /* A namespace added 90.5 s into the run was created then, to the
     * second. */
    static const char body[] = "{\"add\": [{\"name\": \"late\"}]}";
    enum simc_edit_error why;
    char err[256];
    assert_int_equal(simc_edit(&c, body, strlen(body), 90500, &why, err, sizeof err), 0);
    one = get_ok(&c, "/api/v1/namespaces/late", NULL);
    assert_string_equal(str_at(one, "metadata.creationTimestamp"), "2026-01-01T00:01:30Z");
    assert_null(at(one, "metadata.annotations"));
    cJSON_Delete(one);
    simc_clear(&c);
}

static void label_selector_filters_lists(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    static const struct {
        const char *path, *sel, *names;
    } cases[] = {
        {"/api/v1/namespaces", "floe.dev/movable=true", "shop"},
        {"/api/v1/namespaces", "floe.dev/movable==true", "shop"},
        {"/api/v1/namespaces", "floe.dev/movable!=true", "batch,idle"},
        {"/api/v1/namespaces", "floe.dev/movable", "batch,shop"},
        {"/api/v1/namespaces", "!floe.dev/movable", "idle"},
        {"/api/v1/namespaces", "floe.dev/movable,tier=gold", "shop"},
        {"/api/v1/namespaces", "kubernetes.io/metadata.name=idle", "idle"},
        {"/api/v1/namespaces", "", "batch,idle,shop"},
        {"/api/v1/namespaces", "nothing=here", ""},
        {"/apis/apps/v1/namespaces/shop/deployments", NULL, "cache,web"},
        {"/apis/apps/v1/namespaces/shop/deployments", "role=front", "web"},
        {"/apis/apps/v1/namespaces/shop/statefulsets", NULL, "db"},
        {"/apis/apps/v1/namespaces/idle/deployments", NULL, ""},
        /* No such namespace: an empty list, as the API server answers. */
        {"/apis/apps/v1/namespaces/ghost/deployments", NULL, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *list = get_ok(&c, cases[i].path, cases[i].sel);
        char names[256];
        item_names(list, names, sizeof names);
        if (strcmp(names, cases[i].names) != 0)
            fail_msg("%s?labelSelector=%s: '%s', want '%s'", cases[i].path,
                     cases[i].sel ? cases[i].sel : "(none)", names, cases[i].names);
        cJSON_Delete(list);
    }
    simc_clear(&c);
}

static void workloads_have_the_api_shape(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    cJSON *list = get_ok(&c, "/apis/apps/v1/namespaces/shop/deployments", NULL);
    assert_string_equal(str_at(list, "kind"), "DeploymentList");
    assert_string_equal(str_at(list, "apiVersion"), "apps/v1");
    assert_non_null(at(list, "metadata.resourceVersion"));
    const cJSON *web = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 1);
    assert_null(cJSON_GetObjectItem(web, "kind"));
    assert_string_equal(str_at(web, "metadata.name"), "web");
    assert_string_equal(str_at(web, "metadata.namespace"), "shop");
    assert_int_equal(strlen(str_at(web, "metadata.uid")), 36);
    assert_non_null(str_at(web, "metadata.resourceVersion"));
    assert_string_equal(str_at(web, "metadata.creationTimestamp"), "2026-01-01T00:00:00Z");
    assert_true(num_at(web, "metadata.generation") == 1);
    assert_string_equal(str_at(web, "metadata.labels.role"), "front");
    assert_true(num_at(web, "spec.replicas") == 2);
    assert_string_equal(str_at(web, "spec.selector.matchLabels.app"), "web");
    assert_string_equal(str_at(web, "spec.template.metadata.labels.app"), "web");
    assert_string_equal(cJSON_GetObjectItem(at(web, "spec.template.metadata.annotations"),
                                            "pre.hook.backup.velero.io/command")
                            ->valuestring,
                        "[\"/bin/true\"]");
    assert_true(num_at(web, "status.replicas") == 2);
    assert_true(num_at(web, "status.readyReplicas") == 2);
    assert_true(num_at(web, "status.availableReplicas") == 2);
    assert_true(num_at(web, "status.updatedReplicas") == 2);
    assert_true(num_at(web, "status.observedGeneration") == 1);
    /* At 0 replicas a Deployment's counts are all omitempty. */
    const cJSON *cache = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
    assert_true(num_at(cache, "spec.replicas") == 0);
    assert_null(at(cache, "status.replicas"));
    assert_null(at(cache, "status.readyReplicas"));
    assert_null(at(cache, "status.availableReplicas"));
    assert_null(at(cache, "metadata.labels"));
    assert_null(at(cache, "spec.template.metadata.annotations"));
    cJSON_Delete(list);

    /* A StatefulSet at 0 keeps replicas and availableReplicas (no
     * omitempty in its Go type), and names its service. */
    cJSON *db = get_ok(&c, "/apis/apps/v1/namespaces/idle/statefulsets/db", NULL);
    assert_string_equal(str_at(db, "kind"), "StatefulSet");
    assert_string_equal(str_at(db, "apiVersion"), "apps/v1");
    assert_string_equal(str_at(db, "metadata.namespace"), "idle");
    assert_string_equal(str_at(db, "spec.serviceName"), "db");
    assert_true(num_at(db, "spec.replicas") == 0);
    assert_true(num_at(db, "status.replicas") == 0);
    assert_true(num_at(db, "status.availableReplicas") == 0);
    assert_null(at(db, "status.readyReplicas"));
    cJSON_Delete(db);

    cJSON *sts = get_ok(&c, "/apis/apps/v1/namespaces/shop/statefulsets", NULL);
    assert_string_equal(str_at(sts, "kind"), "StatefulSetList");
    const cJSON *shop_db = cJSON_GetArrayItem(cJSON_GetObjectItem(sts, "items"), 0);
    assert_true(num_at(shop_db, "status.readyReplicas") == 1);
    assert_true(num_at(shop_db, "status.availableReplicas") == 1);
    cJSON_Delete(sts);

    cJSON *one = get_ok(&c, "/apis/apps/v1/namespaces/shop/deployments/web", NULL);
    assert_string_equal(str_at(one, "kind"), "Deployment");
    cJSON_Delete(one);
    simc_clear(&c);
}

static void errors_are_status_objects(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    /* The exact body, as the API server writes it. */
    struct sim_kube_request req = {
        .method = "GET", .path = "/api/v1/namespaces/x", .authorization = "Bearer tok-1"};
    char *body;
    assert_int_equal(sim_kube_handle(&c, &req, &body), 404);
    assert_string_equal(body,
                        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                        "\"Failure\",\"message\":\"namespaces \\\"x\\\" not found\",\"reason\":"
                        "\"NotFound\",\"details\":{\"name\":\"x\",\"kind\":\"namespaces\"},"
                        "\"code\":404}");
    free(body);

    static const struct {
        const char *method, *path, *sel, *auth;
        int status;
        const char *reason, *message, *details; /* details: its JSON, NULL = absent */
    } cases[] = {
        {"GET", "/apis/apps/v1/namespaces/shop/deployments/nope", NULL, "Bearer tok-1", 404,
         "NotFound", "deployments.apps \"nope\" not found",
         "{\"name\":\"nope\",\"group\":\"apps\",\"kind\":\"deployments\"}"},
        {"GET", "/apis/apps/v1/namespaces/ghost/statefulsets/db", NULL, "Bearer tok-1", 404,
         "NotFound", "statefulsets.apps \"db\" not found",
         "{\"name\":\"db\",\"group\":\"apps\",\"kind\":\"statefulsets\"}"},
        {"GET", "/api/v1/pods", NULL, "Bearer tok-1", 404, "NotFound",
         "the server could not find the requested resource", "{}"},
        {"GET", "/apis/apps/v1/namespaces/shop/replicasets", NULL, "Bearer tok-1", 404, "NotFound",
         "the server could not find the requested resource", "{}"},
        {"GET", "/api/v1/namespaces/shop/deployments", NULL, "Bearer tok-1", 404, "NotFound",
         "the server could not find the requested resource", "{}"},
        {"GET", "/api/v1/namespaces/", NULL, "Bearer tok-1", 404, "NotFound",
         "the server could not find the requested resource", "{}"},
        {"GET", "/api", NULL, "Bearer tok-1", 404, "NotFound",
         "the server could not find the requested resource", "{}"},
        {"PUT", "/api/v1/namespaces", NULL, "Bearer tok-1", 405, "MethodNotAllowed",
         "the server does not allow this method on the requested resource", "{}"},
        {"PATCH", "/api/v1/namespaces/shop", NULL, "Bearer tok-1", 405, "MethodNotAllowed",
         "the server does not allow this method on the requested resource", "{}"},
        {"DELETE", "/apis/apps/v1/namespaces/shop/deployments/web/scale", NULL, "Bearer tok-1", 405,
         "MethodNotAllowed", "the server does not allow this method on the requested resource",
         "{}"},
        {"GET", "/apis/apps/v1/namespaces/shop/deployments/web/status", NULL, "Bearer tok-1", 404,
         "NotFound", "the server could not find the requested resource", "{}"},
        {"PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", NULL, "Bearer tok-1", 405,
         "MethodNotAllowed", "the server does not allow this method on the requested resource",
         "{}"},
        {"GET", "/api/v1/namespaces", "a b", "Bearer tok-1", 400, "BadRequest",
         "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt", NULL},
        {"GET", "/apis/apps/v1/namespaces/shop/deployments", "=x", "Bearer tok-1", 400,
         "BadRequest", "found '=', expected: !, identifier, or 'end of string'", NULL},
        /* Authentication comes first: no token, no hint about the path. */
        {"GET", "/api/v1/namespaces", NULL, NULL, 401, "Unauthorized", "Unauthorized", NULL},
        {"GET", "/api/v1/namespaces/x", NULL, "Bearer tok-2", 401, "Unauthorized", "Unauthorized",
         NULL},
        {"GET", "/api/v1/nothing", NULL, "Basic dG9rLTE=", 401, "Unauthorized", "Unauthorized",
         NULL},
        {"POST", "/api/v1/namespaces", NULL, "Bearer", 401, "Unauthorized", "Unauthorized", NULL},
        {"GET", "/api/v1/namespaces", NULL, "Bearer tok-", 401, "Unauthorized", "Unauthorized",
         NULL},
        {"GET", "/api/v1/namespaces", NULL, "Bearer tok-11", 401, "Unauthorized", "Unauthorized",
         NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *st = request(&c, cases[i].method, cases[i].path, cases[i].sel, cases[i].auth,
                            cases[i].status);
        char *details = at(st, "details") ? cJSON_PrintUnformatted(at(st, "details")) : NULL;
        if (strcmp(str_at(st, "kind"), "Status") != 0 ||
            strcmp(str_at(st, "apiVersion"), "v1") != 0 || !cJSON_IsObject(at(st, "metadata")) ||
            strcmp(str_at(st, "status"), "Failure") != 0 ||
            strcmp(str_at(st, "reason"), cases[i].reason) != 0 ||
            strcmp(str_at(st, "message"), cases[i].message) != 0 ||
            num_at(st, "code") != cases[i].status ||
            (details == NULL) != (cases[i].details == NULL) ||
            (details && strcmp(details, cases[i].details) != 0))
            fail_msg("%s %s: %s %s, details %s", cases[i].method, cases[i].path,
                     str_at(st, "reason"), str_at(st, "message"), details ? details : "none");
        free(details);
        cJSON_Delete(st);
    }
    simc_clear(&c);
}

static void bearer_token_is_checked_only_when_set(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c, shop_cluster);
    /* The scheme in any case, as the API server takes it. */
    cJSON_Delete(request(&c, "GET", "/api/v1/namespaces", NULL, "bearer tok-1", 200));
    cJSON_Delete(request(&c, "GET", "/api/v1/namespaces", NULL, "BEARER tok-1", 200));
    simc_clear(&c);

    build(&c, "{\"namespaces\": [{\"name\": \"open\"}]}");
    cJSON_Delete(request(&c, "GET", "/api/v1/namespaces/open", NULL, NULL, 200));
    cJSON_Delete(request(&c, "GET", "/api/v1/namespaces/open", NULL, "Bearer anything", 200));
    simc_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selectors_match_as_the_api_server_does),
        cmocka_unit_test(malformed_selectors_are_refused),
        cmocka_unit_test(names_follow_kubernetes_rules),
        cmocka_unit_test(objects_get_uids_and_one_version_counter),
        cmocka_unit_test(clone_is_independent),
        cmocka_unit_test(running_namespaces_draw_their_power),
        cmocka_unit_test(cluster_load_heats_the_room),
        cmocka_unit_test(namespace_list_has_the_api_shape),
        cmocka_unit_test(label_selector_filters_lists),
        cmocka_unit_test(workloads_have_the_api_shape),
        cmocka_unit_test(errors_are_status_objects),
        cmocka_unit_test(bearer_token_is_checked_only_when_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
