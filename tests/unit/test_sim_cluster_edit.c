/*
 * test_sim_cluster_edit — the cluster's JSON going in
 * (sim/sim_cluster_edit.c): POST /sim/cluster bodies (what each changes,
 * which versions move, what is refused with which code, all or nothing)
 * and the scenario's "cluster" section.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_cluster_edit.h"
#include "sim/sim_scenario.h"

#include <stdio.h>
#include <string.h>

static const char *const base =
    "{\"namespaces\": ["
    " {\"name\": \"shop\", \"labels\": {\"floe.dev/movable\": \"true\"},"
    "  \"annotations\": {\"floe.dev/power-kw\": \"40\"},"
    "  \"deployments\": [{\"name\": \"web\", \"replicas\": 2}],"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 1}]}"
    "]}";

static void build(struct simc_cluster *c)
{
    simc_init(c, "t");
    cJSON *v = cJSON_Parse(base);
    char err[512];
    if (simc_parse_scenario(c, v, "cluster", err, sizeof err) < 0)
        fail_msg("%s", err);
    cJSON_Delete(v);
}

static int edit(struct simc_cluster *c, const char *body, enum simc_edit_error *why, char *err,
                size_t errlen)
{
    return simc_edit(c, body, strlen(body), 7000, why, err, errlen);
}

static void edit_ok(struct simc_cluster *c, const char *body)
{
    enum simc_edit_error why;
    char err[512];
    if (edit(c, body, &why, err, sizeof err) < 0)
        fail_msg("%s: %s", body, err);
}

/* An edit swaps in a new copy of the cluster: look objects up afresh. */
static struct simc_namespace *shop_of(struct simc_cluster *c)
{
    return simc_ns_find(c, "shop");
}

static struct simc_workload *workload_of(struct simc_cluster *c, enum simc_kind kind,
                                         const char *name)
{
    return simc_workload_find(shop_of(c), kind, name);
}

static void patch_changes_replicas_labels_and_annotations(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    uint64_t rv = c.resource_version, ns_rv = shop_of(&c)->meta.resource_version;

    edit_ok(&c, "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": 0}}}}}");
    struct simc_workload *web = workload_of(&c, SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->replicas, 0);
    assert_int_equal(web->generation, 2);
    assert_int_equal(web->meta.resource_version, rv + 1);
    assert_int_equal(c.resource_version, rv + 1);
    assert_int_equal(shop_of(&c)->meta.resource_version, ns_rv); /* the namespace did not change */

    /* Setting what is already there changes nothing, not even versions. */
    edit_ok(&c, "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": 0}},"
                " \"labels\": {\"floe.dev/movable\": \"true\"}}}}");
    assert_int_equal(c.resource_version, rv + 1);
    assert_int_equal(workload_of(&c, SIMC_DEPLOYMENT, "web")->generation, 2);

    /* null removes; the API server's own label stays whatever is asked. */
    edit_ok(&c,
            "{\"patch\": {\"shop\": {\"labels\": {\"floe.dev/movable\": null, \"tier\": "
            "\"gold\", \"kubernetes.io/metadata.name\": null},"
            " \"annotations\": {\"floe.dev/power-kw\": \"60\", \"floe.dev/priority\": \"5\"}}}}");
    struct simc_namespace *shop = shop_of(&c);
    assert_null(simc_map_get(&shop->meta.labels, "floe.dev/movable"));
    assert_string_equal(simc_map_get(&shop->meta.labels, "tier"), "gold");
    assert_string_equal(simc_map_get(&shop->meta.labels, SIMC_LABEL_NS_NAME), "shop");
    assert_string_equal(simc_map_get(&shop->meta.annotations, "floe.dev/power-kw"), "60");
    assert_string_equal(simc_map_get(&shop->meta.annotations, "floe.dev/priority"), "5");
    assert_int_equal(shop->meta.resource_version, rv + 2);

    /* Pod-template annotations are spec (generation moves); a workload's
     * own labels are not. */
    edit_ok(&c, "{\"patch\": {\"shop\": {\"statefulsets\": {\"db\": {\"pod_annotations\": "
                "{\"pre.hook.backup.velero.io/command\": \"[\\\"/bin/sync\\\"]\"}}}}}}");
    struct simc_workload *db = workload_of(&c, SIMC_STATEFULSET, "db");
    assert_int_equal(db->generation, 2);
    assert_string_equal(simc_map_get(&db->pod_annotations, "pre.hook.backup.velero.io/command"),
                        "[\"/bin/sync\"]");
    edit_ok(&c, "{\"patch\": {\"shop\": {\"statefulsets\": {\"db\": {\"labels\": {\"app\": "
                "\"mysql\"}}}}}}");
    db = workload_of(&c, SIMC_STATEFULSET, "db");
    assert_int_equal(db->generation, 2);
    assert_int_equal(db->meta.resource_version, c.resource_version);
    assert_true(simc_running_kw(&c) == 60); /* db still runs */
    simc_clear(&c);
}

static void add_and_remove_namespaces(void **state)
{
    (void)state;
    struct simc_cluster c;
    build(&c);
    char uid[SIMC_UID_LEN];
    snprintf(uid, sizeof uid, "%s", simc_ns_find(&c, "shop")->meta.uid);
    edit_ok(&c, "{\"add\": [{\"name\": \"new\", \"annotations\": {\"floe.dev/power-kw\": \"7\"},"
                " \"deployments\": [{\"name\": \"api\", \"replicas\": 3}]}],"
                " \"remove\": [\"shop\"]}");
    assert_null(simc_ns_find(&c, "shop"));
    struct simc_namespace *n = simc_ns_find(&c, "new");
    assert_non_null(n);
    assert_int_equal(n->meta.created_ms, 7000);
    assert_int_equal(n->workloads[0].replicas, 3);
    assert_true(simc_running_kw(&c) == 7);

    /* Added again, it is a new object with a new uid. */
    edit_ok(&c, "{\"add\": [{\"name\": \"shop\"}]}");
    assert_string_not_equal(simc_ns_find(&c, "shop")->meta.uid, uid);
    snprintf(uid, sizeof uid, "%s", simc_ns_find(&c, "shop")->meta.uid);
    /* Members apply in the order given: remove, then add, replaces it ... */
    edit_ok(&c, "{\"remove\": [\"shop\"], \"add\": [{\"name\": \"shop\"}]}");
    assert_string_not_equal(simc_ns_find(&c, "shop")->meta.uid, uid);
    /* ... while add, then remove, finds it still there. */
    enum simc_edit_error why;
    char err[256];
    assert_int_equal(edit(&c, "{\"add\": [{\"name\": \"shop\"}], \"remove\": [\"shop\"]}", &why,
                          err, sizeof err),
                     -1);
    assert_int_equal(why, SIMC_EDIT_EXISTS);

    edit_ok(&c, "{\"token\": \"rotated-2\"}");
    assert_string_equal(c.token, "rotated-2");
    simc_clear(&c);
}

static void bad_bodies_are_refused_and_change_nothing(void **state)
{
    (void)state;
    static const struct {
        const char *name, *body;
        enum simc_edit_error why;
        const char *err;
    } cases[] = {
        {"not_json", "{\"patch\": ", SIMC_EDIT_BAD_JSON, "body is not valid JSON"},
        {"not_object", "[]", SIMC_EDIT_BAD_JSON, "body must be an object"},
        {"unknown_member", "{\"scale\": {}}", SIMC_EDIT_BAD_VALUE, "scale: unknown key"},
        {"duplicate_member", "{\"remove\": [], \"remove\": []}", SIMC_EDIT_BAD_VALUE,
         "remove: duplicate key"},
        {"patch_unknown_ns", "{\"patch\": {\"ghost\": {}}}", SIMC_EDIT_NOT_FOUND,
         "patch.ghost: no namespace \"ghost\""},
        {"patch_unknown_workload",
         "{\"patch\": {\"shop\": {\"statefulsets\": {\"web\": {\"replicas\": 1}}}}}",
         SIMC_EDIT_NOT_FOUND,
         "patch.shop.statefulsets.web: no StatefulSet \"web\" in namespace \"shop\""},
        {"remove_unknown", "{\"remove\": [\"ghost\"]}", SIMC_EDIT_NOT_FOUND,
         "remove[0]: no namespace \"ghost\""},
        {"add_existing", "{\"add\": [{\"name\": \"shop\"}]}", SIMC_EDIT_EXISTS,
         "add[0].name: namespace \"shop\" already exists"},
        {"replicas_negative",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": -1}}}}}",
         SIMC_EDIT_BAD_VALUE,
         "patch.shop.deployments.web.replicas: expected a whole number 0..2147483647"},
        {"replicas_fraction",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": 1.5}}}}}",
         SIMC_EDIT_BAD_VALUE, "replicas: expected a whole number"},
        {"replicas_string",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": \"2\"}}}}}",
         SIMC_EDIT_BAD_VALUE, "replicas: expected a whole number"},
        {"workload_key_unknown",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"image\": \"x\"}}}}}",
         SIMC_EDIT_BAD_VALUE, "patch.shop.deployments.web.image: unknown key"},
        {"name_in_patch",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"name\": \"x\"}}}}}",
         SIMC_EDIT_BAD_VALUE, "patch.shop.deployments.web.name: unknown key"},
        {"ns_key_unknown", "{\"patch\": {\"shop\": {\"phase\": \"Terminating\"}}}",
         SIMC_EDIT_BAD_VALUE, "patch.shop.phase: unknown key"},
        {"annotation_number",
         "{\"patch\": {\"shop\": {\"annotations\": {\"floe.dev/power-kw\": 60}}}}",
         SIMC_EDIT_BAD_VALUE,
         "patch.shop.annotations[\"floe.dev/power-kw\"]: expected a string or null"},
        {"label_value_bad", "{\"patch\": {\"shop\": {\"labels\": {\"tier\": \"gold class\"}}}}",
         SIMC_EDIT_BAD_VALUE, "patch.shop.labels.tier: a valid label must be"},
        {"label_key_bad", "{\"patch\": {\"shop\": {\"labels\": {\"Floe.dev/x\": \"y\"}}}}",
         SIMC_EDIT_BAD_VALUE, "patch.shop.labels[\"Floe.dev/x\"]: key: prefix part"},
        {"add_null_label", "{\"add\": [{\"name\": \"n\", \"labels\": {\"a\": null}}]}",
         SIMC_EDIT_BAD_VALUE, "add[0].labels.a: expected a string"},
        {"add_bad_name", "{\"add\": [{\"name\": \"New_NS\"}]}", SIMC_EDIT_BAD_VALUE,
         "add[0].name: namespace name \"New_NS\": a lowercase RFC 1123 label"},
        {"add_no_name", "{\"add\": [{\"labels\": {}}]}", SIMC_EDIT_BAD_VALUE,
         "add[0].name: missing"},
        {"add_twice", "{\"add\": [{\"name\": \"n\"}, {\"name\": \"n\"}]}", SIMC_EDIT_EXISTS,
         "add[1].name: namespace \"n\" already exists"},
        {"add_duplicate_workload",
         "{\"add\": [{\"name\": \"n\", \"deployments\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}]}",
         SIMC_EDIT_BAD_VALUE, "add[0].deployments[1].name: deployments.apps \"a\" already exists"},
        {"remove_not_string", "{\"remove\": [1]}", SIMC_EDIT_BAD_VALUE,
         "remove[0]: expected a namespace name"},
        {"token_blank", "{\"token\": \"a b\"}", SIMC_EDIT_BAD_VALUE, "token: expected 1 to"},
        /* All or nothing: the first parts were fine, the last is not. */
        {"later_part_fails",
         "{\"patch\": {\"shop\": {\"deployments\": {\"web\": {\"replicas\": 0}}}},"
         " \"add\": [{\"name\": \"n\"}], \"remove\": [\"ghost\"]}",
         SIMC_EDIT_NOT_FOUND, "remove[0]: no namespace \"ghost\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct simc_cluster c;
        build(&c);
        uint64_t rv = c.resource_version;
        enum simc_edit_error why = (enum simc_edit_error) - 1;
        char err[512] = "";
        if (edit(&c, cases[i].body, &why, err, sizeof err) == 0)
            fail_msg("%s: accepted", cases[i].name);
        if (why != cases[i].why || !strstr(err, cases[i].err))
            fail_msg("%s: %s '%s', want %s '%s'", cases[i].name, simc_edit_error_code(why), err,
                     simc_edit_error_code(cases[i].why), cases[i].err);
        if (c.resource_version != rv || c.nnamespaces != 1 ||
            simc_ns_find(&c, "shop")->workloads[0].replicas != 2)
            fail_msg("%s: the cluster changed", cases[i].name);
        simc_clear(&c);
    }
    assert_int_equal(simc_edit_error_status(SIMC_EDIT_BAD_JSON), 400);
    assert_int_equal(simc_edit_error_status(SIMC_EDIT_BAD_VALUE), 400);
    assert_int_equal(simc_edit_error_status(SIMC_EDIT_NOT_FOUND), 404);
    assert_int_equal(simc_edit_error_status(SIMC_EDIT_EXISTS), 409);
    assert_string_equal(simc_edit_error_code(SIMC_EDIT_NOT_FOUND), "not_found");
    assert_string_equal(simc_edit_error_code(SIMC_EDIT_EXISTS), "exists");
}

static int parse(struct sim_scenario *sc, const char *cluster, char *err, size_t errlen)
{
    char text[2048];
    snprintf(text, sizeof text, "{\"site\": {\"name\": \"a\"}, \"it\": {\"base_kw\": 100}, %s}",
             cluster);
    return sim_scenario_parse(sc, "t.json", text, strlen(text), err, errlen);
}

static void scenario_cluster_mistakes_name_their_path(void **state)
{
    (void)state;
    static const struct {
        const char *cluster, *err;
    } cases[] = {
        {"\"cluster\": []", "t.json: cluster: expected an object"},
        {"\"cluster\": {\"nodes\": 3}", "t.json: cluster.nodes: unknown key"},
        {"\"cluster\": {\"token\": \"\"}", "t.json: cluster.token: expected 1 to 1023"},
        {"\"cluster\": {\"namespaces\": {}}",
         "t.json: cluster.namespaces: expected an array of namespaces"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"colour\": \"red\"}]}",
         "t.json: cluster.namespaces[0].colour: unknown key"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"labels\": {\"floe.dev/movable\": "
         "true}}]}",
         "t.json: cluster.namespaces[0].labels[\"floe.dev/movable\"]: expected a string"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"annotations\": {\"x\": \"1\", "
         "\"x\": \"2\"}}]}",
         "t.json: cluster.namespaces[0].annotations.x: duplicate key"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
         "t.json: cluster.namespaces[1].name: namespace \"a\" already exists"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"statefulsets\": [{\"replicas\": "
         "1}]}]}",
         "t.json: cluster.namespaces[0].statefulsets[0].name: missing"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"deployments\": [{\"name\": \"w\", "
         "\"replicas\": 1e10}]}]}",
         "t.json: cluster.namespaces[0].deployments[0].replicas: expected a whole number"},
        {"\"cluster\": {\"namespaces\": [{\"name\": \"a\", \"deployments\": [{\"name\": "
         "\"web.v2\"}]}]}",
         "t.json: cluster.namespaces[0].deployments[0].name: Deployment name \"web.v2\": a "
         "lowercase RFC 1123 label"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim_scenario sc;
        char err[512] = "";
        if (parse(&sc, cases[i].cluster, err, sizeof err) == 0) {
            sim_scenario_clear(&sc);
            fail_msg("%s: accepted", cases[i].cluster);
        }
        if (!strstr(err, cases[i].err))
            fail_msg("%s: '%s', want '%s'", cases[i].cluster, err, cases[i].err);
    }
}

static void scenario_cluster_builds_objects_and_load(void **state)
{
    (void)state;
    struct sim_scenario sc;
    char err[512] = "";
    if (parse(&sc,
              "\"cluster\": {\"token\": \"k8s-token\", \"namespaces\": ["
              " {\"name\": \"shop\", \"annotations\": {\"floe.dev/power-kw\": \"40\"},"
              "  \"deployments\": [{\"name\": \"web\", \"replicas\": 2, \"annotations\": {\"a\": "
              "\"b\"}, \"pod_annotations\": {\"c\": \"d\"}}]},"
              " {\"name\": \"stopped\", \"annotations\": {\"floe.dev/power-kw\": \"30\"},"
              "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 0}]},"
              " {\"name\": \"broken\", \"annotations\": {\"floe.dev/power-kw\": \"lots\"},"
              "  \"deployments\": [{\"name\": \"x\"}]}]}",
              err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_string_equal(sc.cluster.token, "k8s-token");
    assert_int_equal(sc.cluster.nnamespaces, 3);
    assert_true(sc.model.it_cluster_kw == 40);
    assert_true(sim_model_it_load_kw(&sc.model) == 140);
    const struct simc_workload *web =
        simc_workload_find(simc_ns_find(&sc.cluster, "shop"), SIMC_DEPLOYMENT, "web");
    assert_int_equal(web->replicas, 2);
    assert_int_equal(web->meta.created_ms, 0);
    assert_string_equal(simc_map_get(&web->meta.annotations, "a"), "b");
    assert_string_equal(simc_map_get(&web->pod_annotations, "c"), "d");
    sim_scenario_clear(&sc);

    /* Without a cluster section: no namespaces, no cluster load, no token. */
    if (parse(&sc, "\"speedup\": 1", err, sizeof err) < 0)
        fail_msg("%s", err);
    assert_int_equal(sc.cluster.nnamespaces, 0);
    assert_string_equal(sc.cluster.token, "");
    assert_true(sc.model.it_cluster_kw == 0);
    sim_scenario_clear(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(patch_changes_replicas_labels_and_annotations),
        cmocka_unit_test(add_and_remove_namespaces),
        cmocka_unit_test(bad_bodies_are_refused_and_change_nothing),
        cmocka_unit_test(scenario_cluster_mistakes_name_their_path),
        cmocka_unit_test(scenario_cluster_builds_objects_and_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
