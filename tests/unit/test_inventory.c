/*
 * test_inventory — the inventory as pure functions: every floe.dev/
 * annotation good and bad (a table), a namespace list with one bad
 * namespace among good ones, Deployments and StatefulSets (replicas,
 * Velero hooks, volume claims), the quiesce rules of SPEC 6 (a quiesce
 * command, pod hooks covering every pod with volumes, data_mover), pinned
 * workloads, static workloads from the config, and references.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement/inventory.h"

/* ---- annotations ---- */

struct ann_case {
    const char *name;
    const char *annotations; /* a JSON object */
    const char *error;       /* NULL: accepted */
};

// clang-format off
static const struct ann_case ann_cases[] = {
    {"power only", "{\"floe.dev/power-kw\": \"40\"}", NULL},
    {"decimals and exponent", "{\"floe.dev/power-kw\": \"12.5\", \"floe.dev/data-gb\": \"1e3\"}", NULL},
    {"zero kW", "{\"floe.dev/power-kw\": \"0\"}", NULL},
    {"other annotations ignored", "{\"floe.dev/power-kw\": \"1\", \"team\": \"x\", \"floe.dev/movable\": \"true\", "
     "\"kubectl.kubernetes.io/last-applied-configuration\": \"{}\"}", NULL},
    {"no annotations", "{}", "floe.dev/power-kw: missing (the kW this workload draws here; required)"},
    {"power not a number", "{\"floe.dev/power-kw\": \"40kW\"}",
     "floe.dev/power-kw: \"40kW\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power negative", "{\"floe.dev/power-kw\": \"-3\"}", "floe.dev/power-kw: \"-3\" is negative (must be >= 0)"},
    {"power infinite", "{\"floe.dev/power-kw\": \"inf\"}",
     "floe.dev/power-kw: \"inf\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power NaN", "{\"floe.dev/power-kw\": \"nan\"}",
     "floe.dev/power-kw: \"nan\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power hex", "{\"floe.dev/power-kw\": \"0x10\"}",
     "floe.dev/power-kw: \"0x10\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power overflow", "{\"floe.dev/power-kw\": \"1e999\"}", "floe.dev/power-kw: \"1e999\" is too large"},
    {"power with spaces", "{\"floe.dev/power-kw\": \" 40\"}",
     "floe.dev/power-kw: \" 40\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power empty", "{\"floe.dev/power-kw\": \"\"}",
     "floe.dev/power-kw: \"\" is not a number (write it like \"40\" or \"12.5\")"},
    {"power a JSON number", "{\"floe.dev/power-kw\": 40}", "floe.dev/power-kw: must be a string"},
    {"data negative", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/data-gb\": \"-1\"}",
     "floe.dev/data-gb: \"-1\" is negative (must be >= 0)"},
    {"priority range", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/priority\": \"1001\"}",
     "floe.dev/priority: \"1001\" is not a whole number 0..1000"},
    {"priority word", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/priority\": \"high\"}",
     "floe.dev/priority: \"high\" is not a whole number 0..1000"},
    {"priority fraction", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/priority\": \"1.5\"}",
     "floe.dev/priority: \"1.5\" is not a whole number 0..1000"},
    {"stateless yes", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/stateless\": \"yes\"}",
     "floe.dev/stateless: \"yes\" must be \"true\" or \"false\""},
    {"pinned True", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/pinned\": \"True\"}",
     "floe.dev/pinned: \"True\" must be \"true\" or \"false\""},
    {"group with a space", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/group\": \"web shop\"}",
     "floe.dev/group: \"web shop\" is not a name (at most 64 letters, digits, '_', '-', '.')"},
    {"home-site empty", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/home-site\": \"\"}",
     "floe.dev/home-site: \"\" is not a name (at most 64 letters, digits, '_', '-', '.')"},
    {"hostname with a path", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/hostname\": \"shop.example.org/x\"}",
     "floe.dev/hostname: \"shop.example.org/x\" is not a DNS name"},
    {"hostname empty label", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/hostname\": \"shop..org\"}",
     "floe.dev/hostname: \"shop..org\" is not a DNS name"},
    {"quiesce a string", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/quiesce\": \"fsfreeze -f /data\"}",
     "floe.dev/quiesce: must be a JSON array of strings, the command and its arguments (e.g. "
     "[\"/sbin/fsfreeze\", \"--freeze\", \"/var/lib/mysql\"])"},
    {"quiesce empty", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/quiesce\": \"[]\"}",
     "floe.dev/quiesce: must be a JSON array of strings, the command and its arguments (e.g. "
     "[\"/sbin/fsfreeze\", \"--freeze\", \"/var/lib/mysql\"])"},
    {"quiesce a number inside", "{\"floe.dev/power-kw\": \"1\", \"floe.dev/quiesce\": \"[\\\"sync\\\", 3]\"}",
     "floe.dev/quiesce: must be a JSON array of strings, the command and its arguments (e.g. "
     "[\"/sbin/fsfreeze\", \"--freeze\", \"/var/lib/mysql\"])"},
    {"every mistake named", "{\"floe.dev/power-kw\": \"x\", \"floe.dev/priority\": \"-1\", \"floe.dev/pinned\": \"1\"}",
     "floe.dev/power-kw: \"x\" is not a number (write it like \"40\" or \"12.5\"); "
     "floe.dev/priority: \"-1\" is not a whole number 0..1000; floe.dev/pinned: \"1\" must be \"true\" or \"false\""},
    {"a long value is cut", "{\"floe.dev/power-kw\": \"0123456789012345678901234567890123456789012345\"}",
     "floe.dev/power-kw: \"0123456789012345678901234567890123456789...\" is too large"},
    {"control characters are not quoted back", "{\"floe.dev/power-kw\": \"4\\n0\"}",
     "floe.dev/power-kw: \"4?0\" is not a number (write it like \"40\" or \"12.5\")"},
};
// clang-format on

static void annotations_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ann_cases / sizeof ann_cases[0]; i++) {
        const struct ann_case *c = &ann_cases[i];
        cJSON *a = cJSON_Parse(c->annotations);
        assert_non_null(a);
        struct inventory *inv = inv_new("kubernetes", 0);
        /* inv_add_namespaces is the way in; a list of one */
        cJSON *list = cJSON_CreateObject();
        cJSON *items = cJSON_AddArrayToObject(list, "items");
        cJSON *ns = cJSON_CreateObject();
        cJSON *meta = cJSON_AddObjectToObject(ns, "metadata");
        cJSON_AddStringToObject(meta, "name", "shop");
        cJSON_AddItemToObject(meta, "annotations", a);
        cJSON_AddItemToArray(items, ns);
        char err[128];
        assert_int_equal(inv_add_namespaces(inv, list, err, sizeof err), 0);
        assert_int_equal(inv->n, 1);
        const struct inv_workload *w = &inv->workloads[0];
        print_message("  %s: %s\n", c->name, w->error ? w->error : "accepted");
        if (c->error)
            assert_string_equal(w->error, c->error);
        else
            assert_null(w->error);
        cJSON_Delete(list);
        inv_unref(inv);
    }
}

static void every_annotation_reaches_its_field(void **state)
{
    (void)state;
    struct inv_workload w = {.priority = INV_DEFAULT_PRIORITY};
    cJSON *a = cJSON_Parse(
        "{\"floe.dev/power-kw\": \"40.5\", \"floe.dev/data-gb\": \"37\", \"floe.dev/priority\": "
        "\"0\", \"floe.dev/stateless\": \"true\", \"floe.dev/group\": \"storefront\", "
        "\"floe.dev/hostname\": \"shop.apps.example.org\", \"floe.dev/pinned\": \"false\", "
        "\"floe.dev/home-site\": \"falkenberg-1\", \"floe.dev/quiesce\": "
        "\"[\\\"/sbin/fsfreeze\\\", \\\"--freeze\\\", \\\"/var/lib/mysql\\\"]\"}");
    assert_int_equal(inv_workload_from_annotations(&w, a), 0);
    assert_true(w.power_kw == 40.5);
    assert_true(w.data_gb == 37);
    assert_int_equal(w.priority, 0);
    assert_true(w.stateless);
    assert_string_equal(w.group, "storefront");
    assert_string_equal(w.hostname, "shop.apps.example.org");
    assert_false(w.pinned);
    assert_string_equal(w.home_site, "falkenberg-1");
    assert_int_equal(w.nquiesce, 3);
    assert_string_equal(w.quiesce[1], "--freeze");
    cJSON_Delete(a);
    /* defaults */
    struct inventory *inv = inv_new("kubernetes", 0);
    const char *one = "{\"kind\": \"NamespaceList\", \"items\": [{\"metadata\": {\"name\": "
                      "\"db\", \"annotations\": {\"floe.dev/power-kw\": \"3\"}}}]}";
    assert_int_equal(inv_add_namespaces_text(inv, one, strlen(one), NULL, 0), 0);
    const struct inv_workload *d = &inv->workloads[0];
    assert_int_equal(d->priority, 50);
    assert_true(d->data_gb == 0);
    assert_false(d->stateless);
    assert_null(d->group);
    assert_null(d->quiesce);
    inv_unref(inv);
    /* the struct above was filled by hand; free what it got */
    free(w.group);
    free(w.hostname);
    free(w.home_site);
    for (size_t i = 0; i < w.nquiesce; i++)
        free(w.quiesce[i]);
    free(w.quiesce);
}

/* ---- namespace lists ---- */

static const char namespaces[] =
    "{\"kind\": \"NamespaceList\", \"apiVersion\": \"v1\", \"metadata\": {\"resourceVersion\": "
    "\"9\"}, \"items\": ["
    "{\"metadata\": {\"name\": \"web\", \"annotations\": {\"floe.dev/power-kw\": \"10\", "
    "\"floe.dev/stateless\": \"true\"}}, \"status\": {\"phase\": \"Active\"}},"
    "{\"metadata\": {\"name\": \"broken\", \"annotations\": {\"floe.dev/power-kw\": \"ten\"}}},"
    "{\"metadata\": {\"name\": \"gone\", \"deletionTimestamp\": \"2026-01-01T00:00:00Z\", "
    "\"annotations\": {\"floe.dev/power-kw\": \"1\"}}, \"status\": {\"phase\": \"Terminating\"}},"
    "{\"metadata\": {\"name\": \"../../etc\", \"annotations\": {\"floe.dev/power-kw\": \"1\"}}},"
    "{\"metadata\": {\"name\": \"db\", \"annotations\": {\"floe.dev/power-kw\": \"20\"}}},"
    "{\"metadata\": {\"name\": \"db\", \"annotations\": {\"floe.dev/power-kw\": \"21\"}}}]}";

static void one_bad_namespace_leaves_out_that_one_only(void **state)
{
    (void)state;
    struct inventory *inv = inv_new("kubernetes", 1234);
    char err[128] = "";
    assert_int_equal(inv_add_namespaces_text(inv, namespaces, strlen(namespaces), err, sizeof err),
                     0);
    assert_int_equal(inv->n, 6);
    /* sorted by name */
    const struct inv_workload *web = inv_find(inv, "web");
    assert_non_null(web);
    assert_null(web->error);
    assert_true(web->power_kw == 10);
    assert_string_equal(inv_find(inv, "broken")->error,
                        "floe.dev/power-kw: \"ten\" is not a number (write it like \"40\" or "
                        "\"12.5\")");
    assert_string_equal(inv_find(inv, "gone")->error, "being deleted (Terminating)");
    assert_string_equal(inv_find(inv, "items[3]")->error,
                        "items[3].metadata.name: \"../../etc\" is not a namespace name");
    assert_string_equal(inv->workloads[1].name, "db");
    assert_string_equal(inv->workloads[1].error, "listed twice by the API server");
    assert_string_equal(inv->workloads[2].error, "listed twice by the API server");
    inv_judge(inv, false);
    assert_true(inv_workload_movable(web));
    assert_false(inv_workload_movable(inv_find(inv, "broken")));
    assert_string_equal(inv_workload_reason(inv_find(inv, "gone")), "being deleted (Terminating)");
    inv_unref(inv);
}

static void answers_that_are_not_namespace_lists_fail_whole(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[]", "{\"kind\": \"Status\", \"code\": 403}", "{\"items\": {}}", "not json", "null",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct inventory *inv = inv_new("kubernetes", 0);
        char err[128] = "";
        assert_int_equal(inv_add_namespaces_text(inv, bad[i], strlen(bad[i]), err, sizeof err), -1);
        assert_true(err[0] != '\0');
        assert_int_equal(inv->n, 0);
        inv_unref(inv);
    }
    /* An empty cluster is a list without items: fine, and empty. */
    struct inventory *inv = inv_new("kubernetes", 0);
    const char *empty = "{\"kind\": \"NamespaceList\", \"items\": null}";
    assert_int_equal(inv_add_namespaces_text(inv, empty, strlen(empty), NULL, 0), 0);
    assert_int_equal(inv->n, 0);
    inv_unref(inv);
}

/* ---- Deployments, StatefulSets and the quiesce rules ---- */

static struct inventory *one_stateful(const char *annotations)
{
    struct inventory *inv = inv_new("kubernetes", 0);
    char text[512];
    snprintf(text, sizeof text,
             "{\"items\": [{\"metadata\": {\"name\": \"db\", \"annotations\": %s}}]}", annotations);
    assert_int_equal(inv_add_namespaces_text(inv, text, strlen(text), NULL, 0), 0);
    assert_null(inv->workloads[0].error);
    return inv;
}

#define HOOK                                                                                       \
    "\"pre.hook.backup.velero.io/command\": \"[\\\"/sbin/fsfreeze\\\", \\\"--freeze\\\", "         \
    "\\\"/data\\\"]\""

static const char deployments[] =
    "{\"kind\": \"DeploymentList\", \"apiVersion\": \"apps/v1\", \"items\": ["
    "{\"metadata\": {\"name\": \"web\"}, \"spec\": {\"replicas\": 3, \"template\": {\"spec\": "
    "{\"containers\": []}}}},"
    "{\"metadata\": {\"name\": \"cache\"}, \"spec\": {\"template\": {\"spec\": {\"volumes\": "
    "[{\"name\": \"tmp\", \"emptyDir\": {}}]}}}}]}";
static const char sts_hooked[] =
    "{\"kind\": \"StatefulSetList\", \"items\": ["
    "{\"metadata\": {\"name\": \"mysql\"}, \"spec\": {\"replicas\": 1, \"template\": "
    "{\"metadata\": "
    "{\"annotations\": {" HOOK "}}}, \"volumeClaimTemplates\": [{\"metadata\": {\"name\": "
    "\"data\"}}]}}]}";
static const char sts_bare[] =
    "{\"kind\": \"StatefulSetList\", \"items\": ["
    "{\"metadata\": {\"name\": \"pg\"}, \"spec\": {\"replicas\": 0, \"volumeClaimTemplates\": "
    "[{\"metadata\": {\"name\": \"data\"}}]}}]}";
static const char deploy_with_claim[] =
    "{\"kind\": \"DeploymentList\", \"items\": ["
    "{\"metadata\": {\"name\": \"files\"}, \"spec\": {\"template\": {\"spec\": {\"volumes\": "
    "[{\"name\": \"d\", \"persistentVolumeClaim\": {\"claimName\": \"files\"}}]}}}}]}";

static void controllers_give_replicas_hooks_and_volumes(void **state)
{
    (void)state;
    struct inventory *inv = one_stateful("{\"floe.dev/power-kw\": \"5\"}");
    struct inv_workload *w = &inv->workloads[0];
    char err[256] = "";
    assert_int_equal(inv_add_controllers_text(w, "deployment", deployments, strlen(deployments),
                                              err, sizeof err),
                     0);
    assert_int_equal(
        inv_add_controllers_text(w, "statefulset", sts_hooked, strlen(sts_hooked), err, sizeof err),
        0);
    assert_int_equal(w->ncontrollers, 3);
    assert_string_equal(w->controllers[0].kind, "deployment");
    assert_string_equal(w->controllers[0].name, "web");
    assert_int_equal(w->controllers[0].replicas, 3);
    assert_int_equal(w->controllers[1].replicas, 1); /* absent: Kubernetes' default */
    assert_false(w->controllers[1].mounts_volumes);  /* an emptyDir is no claim */
    assert_string_equal(w->controllers[2].kind, "statefulset");
    assert_true(w->controllers[2].pod_hook);
    assert_true(w->controllers[2].mounts_volumes);
    inv_judge(inv, false);
    assert_true(w->has_pod_hooks);
    assert_null(w->unmovable);
    inv_unref(inv);
}

static void bad_controller_lists_name_the_item(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *text, *err;
    } cases[] = {
        {"deployment", "{\"kind\": \"StatefulSetList\", \"items\": []}", "not a DeploymentList"},
        {"statefulset", "{\"kind\": \"StatefulSetList\", \"items\": 3}",
         "StatefulSetList: items is not an array"},
        {"deployment",
         "{\"items\": [{\"metadata\": {\"name\": \"a\"}}, {\"metadata\": {\"name\": \"b\"}, "
         "\"spec\": {\"replicas\": -1}}]}",
         "DeploymentList items[1].spec.replicas (deployment b): not a whole number >= 0"},
        {"deployment",
         "{\"items\": [{\"metadata\": {\"name\": \"a\"}, \"spec\": {\"replicas\": 1.5}}]}",
         "DeploymentList items[0].spec.replicas (deployment a): not a whole number >= 0"},
        {"deployment", "{\"items\": [{\"metadata\": {\"name\": \"A B\"}}]}",
         "DeploymentList items[0].metadata.name: not an object name"},
        {"deployment", "{\"items\": [{}]}",
         "DeploymentList items[0].metadata.name: not an object name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct inventory *inv = one_stateful("{\"floe.dev/power-kw\": \"5\"}");
        struct inv_workload *w = &inv->workloads[0];
        char err[256] = "";
        assert_int_equal(inv_add_controllers_text(w, cases[i].kind, cases[i].text,
                                                  strlen(cases[i].text), err, sizeof err),
                         -1);
        assert_string_equal(err, cases[i].err);
        assert_int_equal(w->ncontrollers, 0); /* nothing half-read is kept */
        inv_unref(inv);
    }
}

/* SPEC 6: a stateful workload moves only when it can be quiesced. */
static void stateful_workloads_need_a_way_to_quiesce(void **state)
{
    (void)state;
    /* no hook, no quiesce, no data mover: not movable, and why */
    struct inventory *inv = one_stateful("{\"floe.dev/power-kw\": \"5\"}");
    struct inv_workload *w = &inv->workloads[0];
    assert_int_equal(
        inv_add_controllers_text(w, "statefulset", sts_bare, strlen(sts_bare), NULL, 0), 0);
    inv_judge(inv, false);
    assert_false(inv_workload_movable(w));
    assert_string_equal(w->unmovable,
                        "stateful and cannot be quiesced: no floe.dev/quiesce annotation, and the "
                        "pods of statefulset pg mount volumes without a Velero pre-backup hook "
                        "(pre.hook.backup.velero.io/command), and migrator.data_mover is off: its "
                        "final backup could miss writes made while it runs");
    /* the data mover moves it anyway */
    inv_judge(inv, true);
    assert_true(inv_workload_movable(w));
    inv_unref(inv);

    /* no controllers at all */
    inv = one_stateful("{\"floe.dev/power-kw\": \"5\"}");
    inv_judge(inv, false);
    assert_string_equal(inv->workloads[0].unmovable,
                        "stateful and cannot be quiesced: no floe.dev/quiesce annotation, no "
                        "Velero pre-backup hook (pre.hook.backup.velero.io/command) on its pods, "
                        "and migrator.data_mover is off: its final backup could miss writes made "
                        "while it runs");
    inv_unref(inv);

    /* a quiesce annotation is enough */
    inv = one_stateful("{\"floe.dev/power-kw\": \"5\", \"floe.dev/quiesce\": \"[\\\"sync\\\"]\"}");
    w = &inv->workloads[0];
    assert_int_equal(
        inv_add_controllers_text(w, "statefulset", sts_bare, strlen(sts_bare), NULL, 0), 0);
    inv_judge(inv, false);
    assert_true(inv_workload_movable(w));
    inv_unref(inv);

    /* a hook on one controller does not cover another one's volumes */
    inv = one_stateful("{\"floe.dev/power-kw\": \"5\"}");
    w = &inv->workloads[0];
    assert_int_equal(
        inv_add_controllers_text(w, "statefulset", sts_hooked, strlen(sts_hooked), NULL, 0), 0);
    assert_int_equal(inv_add_controllers_text(w, "deployment", deploy_with_claim,
                                              strlen(deploy_with_claim), NULL, 0),
                     0);
    inv_judge(inv, false);
    assert_false(w->has_pod_hooks);
    assert_non_null(strstr(w->unmovable, "the pods of deployment files mount volumes"));
    inv_unref(inv);

    /* stateless needs nothing */
    inv = one_stateful("{\"floe.dev/power-kw\": \"5\", \"floe.dev/stateless\": \"true\"}");
    w = &inv->workloads[0];
    assert_int_equal(
        inv_add_controllers_text(w, "statefulset", sts_bare, strlen(sts_bare), NULL, 0), 0);
    inv_judge(inv, false);
    assert_true(inv_workload_movable(w));
    inv_unref(inv);

    /* pinned never moves, whatever else */
    inv = one_stateful("{\"floe.dev/power-kw\": \"5\", \"floe.dev/stateless\": \"true\", "
                       "\"floe.dev/pinned\": \"true\"}");
    inv_judge(inv, true);
    assert_string_equal(inv->workloads[0].unmovable, "pinned to this site (floe.dev/pinned)");
    inv_unref(inv);
}

/* A quiesce command floe cannot carry whole is refused, never cut (a
 * final backup without its hook could miss writes): too many words, or
 * too long as JSON. The limits are the migrator's (CFG_QUIESCE_*). */
static void a_quiesce_command_too_long_to_carry_is_not_movable(void **state)
{
    (void)state;
    /* one word of 2100 bytes, as an annotation */
    size_t big = 2100;
    char *text = malloc(big + 256);
    int len = snprintf(text, big + 256,
                       "{\"items\": [{\"metadata\": {\"name\": \"db\", \"annotations\": "
                       "{\"floe.dev/power-kw\": \"5\", \"floe.dev/quiesce\": \"[\\\"sh\\\", "
                       "\\\"-c\\\", \\\"%0*d\\\"]\"}}}]}",
                       (int)big, 0);
    struct inventory *inv = inv_new("kubernetes", 0);
    assert_int_equal(inv_add_namespaces_text(inv, text, (size_t)len, NULL, 0), 0);
    free(text);
    struct inv_workload *w = &inv->workloads[0];
    assert_null(w->error);
    assert_int_equal(w->nquiesce, 3);
    inv_judge(inv, false);
    assert_false(inv_workload_movable(w));
    assert_non_null(strstr(w->unmovable, "quiesce command too long: 2114 bytes as a JSON array; "
                                         "floe carries at most 2047 (floe.dev/quiesce)"));
    /* the data mover does not make a given command optional */
    inv_judge(inv, true);
    assert_false(inv_workload_movable(w));
    inv_unref(inv);

    /* 65 words, static; 64 still move */
    char *words[CFG_QUIESCE_WORDS + 1];
    for (size_t i = 0; i < CFG_QUIESCE_WORDS + 1; i++)
        words[i] = "x";
    struct cfg_static_workload st[2] = {
        {.name = "many", .power_kw = 1, .quiesce = words, .nquiesce = CFG_QUIESCE_WORDS + 1},
        {.name = "enough", .power_kw = 1, .quiesce = words, .nquiesce = CFG_QUIESCE_WORDS},
    };
    struct cfg_workloads cw = {.source = "static", .statics = st, .nstatics = 2};
    inv = inv_new("static", 0);
    inv_from_static(inv, &cw);
    inv_judge(inv, false);
    assert_string_equal(inv->workloads[0].unmovable,
                        "quiesce command too long: 65 words; floe carries at most 64 (quiesce)");
    assert_true(inv_workload_movable(&inv->workloads[1]));
    inv_unref(inv);
}

/* ---- static ---- */

static void static_workloads_follow_the_same_rules(void **state)
{
    (void)state;
    char *cmd[] = {"fsfreeze", "-f", "/data"};
    struct cfg_static_workload s[3] = {
        {.name = "shop",
         .namespace_ = "shop",
         .power_kw = 40,
         .priority = 10,
         .stateless = true,
         .group = "storefront",
         .hostname = "shop.example.org",
         .home_site = "falkenberg-1"},
        {.name = "db", .namespace_ = "mysql", .power_kw = 20, .data_gb = 37, .priority = 50},
        {.name = "files",
         .namespace_ = "files",
         .power_kw = 5,
         .priority = 50,
         .quiesce = cmd,
         .nquiesce = 3},
    };
    struct cfg_workloads cw = {.source = "static", .statics = s, .nstatics = 3};
    struct inventory *inv = inv_new("static", 99);
    inv_from_static(inv, &cw);
    inv_judge(inv, false);
    assert_int_equal(inv->n, 3);
    assert_int_equal(inv->read_ms, 99);
    const struct inv_workload *shop = inv_find(inv, "shop");
    assert_true(inv_workload_movable(shop));
    assert_string_equal(shop->group, "storefront");
    assert_string_equal(shop->home_site, "falkenberg-1");
    assert_int_equal(shop->priority, 10);
    const struct inv_workload *db = inv_find(inv, "db");
    assert_string_equal(db->namespace_, "mysql");
    assert_string_equal(db->unmovable,
                        "stateful and cannot be quiesced: no quiesce command, and "
                        "migrator.data_mover is off: its final backup could miss writes made "
                        "while it runs");
    const struct inv_workload *files = inv_find(inv, "files");
    assert_true(inv_workload_movable(files));
    assert_int_equal(files->nquiesce, 3);
    assert_ptr_not_equal(files->quiesce, cmd); /* a copy: the config may go */
    inv_judge(inv, true);
    assert_true(inv_workload_movable(inv_find(inv, "db")));
    assert_null(inv_find(inv, "nope"));
    inv_unref(inv);
}

static void references_keep_an_inventory_alive(void **state)
{
    (void)state;
    struct inventory *inv = inv_new("static", 0);
    struct cfg_static_workload s = {
        .name = "a", .namespace_ = "a", .power_kw = 1, .stateless = true};
    struct cfg_workloads cw = {.statics = &s, .nstatics = 1};
    inv_from_static(inv, &cw);
    struct inventory *reader = inv_ref(inv);
    inv_unref(inv); /* the creator lets go; the reader still reads */
    assert_string_equal(reader->workloads[0].name, "a");
    inv_unref(reader); /* the last one frees (ASan would see a leak otherwise) */
    assert_null(inv_ref(NULL));
    inv_unref(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(annotations_table),
        cmocka_unit_test(every_annotation_reaches_its_field),
        cmocka_unit_test(one_bad_namespace_leaves_out_that_one_only),
        cmocka_unit_test(answers_that_are_not_namespace_lists_fail_whole),
        cmocka_unit_test(controllers_give_replicas_hooks_and_volumes),
        cmocka_unit_test(bad_controller_lists_name_the_item),
        cmocka_unit_test(stateful_workloads_need_a_way_to_quiesce),
        cmocka_unit_test(a_quiesce_command_too_long_to_carry_is_not_movable),
        cmocka_unit_test(static_workloads_follow_the_same_rules),
        cmocka_unit_test(references_keep_an_inventory_alive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
