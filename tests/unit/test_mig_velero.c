/*
 * test_mig_velero — the migrator's Velero client: the Backup and Restore
 * it builds hold only fields of Velero v1.18.1's own CRD schemas
 * (tests/data/velero-crds/, walked key by key with their types), names
 * of at most 63 with a hash that keeps long names apart, every phase of
 * both CRDs classified, a server restart's failureReason recognised,
 * and create (409 is created), get, delete and bytes against a loopback
 * server answering Kubernetes-shaped JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "lib/util.h"
#include "migrator/mig_velero.h"
#include "tests/unit/lib/fake_http.h"

#define CRD_DIR "tests/data/velero-crds/"

/* ---- a checker for Velero's CRD schemas ---- */

static cJSON *load_crd(const char *file)
{
    char err[256];
    char *text = util_read_file(file, NULL, err, sizeof err);
    if (!text)
        fail_msg("%s", err);
    cJSON *crd = cJSON_Parse(text);
    free(text);
    assert_non_null(crd);
    return crd;
}

static const cJSON *openapi_schema(const cJSON *crd)
{
    const cJSON *v =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(crd, "spec"), "versions"), 0);
    const cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(v, "schema"), "openAPIV3Schema");
    assert_non_null(s);
    return s;
}

static int bad(char *why, size_t n, const char *path, const char *what)
{
    if (snprintf(why, n, "%s: %s", path[0] ? path : "(top)", what) >= (int)n)
        why[n - 1] = '\0'; /* cut: a long path is still a path */
    return -1;
}

/* Checks value against schema as a strict API server would (types,
 * enums, required keys, minItems, no key the schema does not know);
 * metadata is the API server's own and only holds names and labels.
 * Returns 0, or -1 with the path of the first problem in why. */
static int check_schema(const cJSON *value, const cJSON *schema, const char *path, char *why,
                        size_t n)
{
    char sub[512];
    if (cJSON_IsTrue(cJSON_GetObjectItem(schema, "x-kubernetes-preserve-unknown-fields")))
        return 0;
    if (cJSON_IsNull(value))
        return cJSON_IsTrue(cJSON_GetObjectItem(schema, "nullable"))
                   ? 0
                   : bad(why, n, path, "null where the schema does not allow it");
    const cJSON *type = cJSON_GetObjectItem(schema, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (strcmp(t, "string") == 0) {
        if (!cJSON_IsString(value))
            return bad(why, n, path, "not a string");
        const cJSON *e, *en = cJSON_GetObjectItem(schema, "enum");
        if (!en)
            return 0;
        cJSON_ArrayForEach(e, en)
        {
            if (strcmp(e->valuestring, value->valuestring) == 0)
                return 0;
        }
        return bad(why, n, path, "not one of the enum's values");
    }
    if (strcmp(t, "boolean") == 0)
        return cJSON_IsBool(value) ? 0 : bad(why, n, path, "not a boolean");
    if (strcmp(t, "integer") == 0)
        return cJSON_IsNumber(value) && floor(value->valuedouble) == value->valuedouble
                   ? 0
                   : bad(why, n, path, "not an integer");
    if (strcmp(t, "array") == 0) {
        if (!cJSON_IsArray(value))
            return bad(why, n, path, "not an array");
        const cJSON *min = cJSON_GetObjectItem(schema, "minItems");
        if (min && cJSON_GetArraySize(value) < min->valueint)
            return bad(why, n, path, "fewer items than minItems");
        int i = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, value)
        {
            snprintf(sub, sizeof sub, "%s[%d]", path, i++);
            if (check_schema(item, cJSON_GetObjectItem(schema, "items"), sub, why, n) != 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(t, "object") != 0)
        return bad(why, n, path, "the schema has no type here");
    if (!cJSON_IsObject(value))
        return bad(why, n, path, "not an object");
    const cJSON *r, *req = cJSON_GetObjectItem(schema, "required");
    cJSON_ArrayForEach(r, req)
    {
        if (!cJSON_GetObjectItemCaseSensitive(value, r->valuestring)) {
            snprintf(sub, sizeof sub, "required key %s missing", r->valuestring);
            return bad(why, n, path, sub);
        }
    }
    const cJSON *props = cJSON_GetObjectItem(schema, "properties");
    const cJSON *more = cJSON_GetObjectItem(schema, "additionalProperties");
    bool is_metadata = strcmp(path, "metadata") == 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, value)
    {
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", kv->string);
        if (is_metadata) {
            static const char *const known[] = {"name", "namespace", "labels", "annotations"};
            bool ok = false;
            for (size_t i = 0; i < 4; i++)
                ok = ok || strcmp(kv->string, known[i]) == 0;
            if (!ok || (strcmp(kv->string, "name") == 0 && !cJSON_IsString(kv)))
                return bad(why, n, sub, "not a metadata field floe sets");
            const cJSON *l, *map = cJSON_IsObject(kv) ? kv : NULL;
            cJSON_ArrayForEach(l, map)
            {
                if (!cJSON_IsString(l))
                    return bad(why, n, sub, "a label or annotation that is not a string");
            }
            continue;
        }
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, kv->string);
        if (!ps && cJSON_IsObject(more))
            ps = more;
        if (!ps)
            return bad(why, n, sub, "unknown field (not in the CRD schema)");
        if (check_schema(kv, ps, sub, why, n) != 0)
            return -1;
    }
    return 0;
}

/* The checker itself finds what it must. */
static void the_schema_checker_finds_unknown_and_mistyped_fields(void **unused)
{
    (void)unused;
    cJSON *crd = load_crd(CRD_DIR "velero.io_backups.json");
    const cJSON *s = openapi_schema(crd);
    static const struct {
        const char *json, *why;
    } cases[] = {
        {"{\"apiVersion\":\"velero.io/v1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"b\"},"
         "\"spec\":{\"includedNamespaces\":[\"shop\"],\"ttl\":\"1h0m0s\"}}",
         NULL},
        {"{\"spec\":{\"includeNamespaces\":[\"shop\"]}}",
         "spec.includeNamespaces: unknown field (not in the CRD schema)"},
        {"{\"spec\":{\"ttl\":3600}}", "spec.ttl: not a string"},
        {"{\"spec\":{\"defaultVolumesToFsBackup\":\"true\"}}",
         "spec.defaultVolumesToFsBackup: not a boolean"},
        {"{\"spec\":{\"defaultVolumesToFsBackup\":null}}", NULL},
        {"{\"spec\":{\"ttl\":null}}", "spec.ttl: null where the schema does not allow it"},
        {"{\"spec\":{\"hooks\":{\"resources\":[{\"pre\":[]}]}}}",
         "spec.hooks.resources[0]: required key name missing"},
        {"{\"spec\":{\"hooks\":{\"resources\":[{\"name\":\"q\",\"pre\":[{\"exec\":"
         "{\"command\":[\"x\"],\"onError\":\"Ignore\"}}]}]}}}",
         "spec.hooks.resources[0].pre[0].exec.onError: not one of the enum's values"},
        {"{\"spec\":{\"hooks\":{\"resources\":[{\"name\":\"q\",\"pre\":[{\"exec\":"
         "{\"command\":[]}}]}]}}}",
         "spec.hooks.resources[0].pre[0].exec.command: fewer items than minItems"},
        {"{\"spec\":{\"metadata\":{\"labels\":{\"a\":\"b\"}}}}", NULL},
        {"{\"metadata\":{\"name\":\"b\",\"labels\":{\"floe.dev/migration\":7}}}",
         "metadata.labels: a label or annotation that is not a string"},
        {"{\"metadata\":{\"generateName\":\"b\"}}",
         "metadata.generateName: not a metadata field floe sets"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_Parse(cases[i].json);
        assert_non_null(o);
        char why[512] = "";
        int rc = check_schema(o, s, "", why, sizeof why);
        if (cases[i].why ? rc != -1 || strcmp(why, cases[i].why) != 0 : rc != 0)
            fail_msg("case %zu: rc %d why \"%s\", want %s", i, rc, why,
                     cases[i].why ? cases[i].why : "valid");
        cJSON_Delete(o);
    }
    cJSON_Delete(crd);
}

/* Parses json (freeing it) and checks it against the CRD in file. */
static cJSON *parse_checked(char *json, const char *file)
{
    assert_non_null(json);
    cJSON *o = cJSON_Parse(json);
    free(json);
    assert_non_null(o);
    cJSON *crd = load_crd(file);
    char why[512] = "";
    if (check_schema(o, openapi_schema(crd), "", why, sizeof why) != 0) {
        char *text = cJSON_Print(o);
        fail_msg("%s: %s\n%s", file, why, text);
    }
    cJSON_Delete(crd);
    return o;
}

static const char *str_at(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- the objects ---- */

static void a_final_backup_carries_the_quiesce_hook_within_the_schema(void **unused)
{
    (void)unused;
    const char *const quiesce[] = {"/sbin/fsfreeze", "--freeze", "/var/lib/mysql"};
    struct mig_backup_spec b = {.name = "floe-dc1-shop-42-3",
                                .namespace_ = "shop",
                                .storage_location = "peer-dc2",
                                .fs_backup = true,
                                .ttl_ms = 72 * 3600 * 1000LL,
                                .migration_id = 42,
                                .quiesce = quiesce,
                                .nquiesce = 3,
                                .hook_timeout_ms = 90 * 1000};
    char err[256] = "";
    cJSON *o = parse_checked(mig_velero_backup_json(&b, err, sizeof err),
                             CRD_DIR "velero.io_backups.json");
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(
        text,
        "{\"apiVersion\":\"velero.io/v1\",\"kind\":\"Backup\",\"metadata\":{\"name\":"
        "\"floe-dc1-shop-42-3\",\"labels\":{\"floe.dev/migration\":\"42\"}},\"spec\":{"
        "\"includedNamespaces\":[\"shop\"],\"defaultVolumesToFsBackup\":true,\"ttl\":"
        "\"72h0m0s\",\"storageLocation\":\"peer-dc2\",\"hooks\":{\"resources\":[{\"name\":"
        "\"floe-quiesce\",\"includedNamespaces\":[\"shop\"],\"pre\":[{\"exec\":{\"command\":["
        "\"/sbin/fsfreeze\",\"--freeze\",\"/var/lib/mysql\"],\"onError\":\"Fail\",\"timeout\":"
        "\"1m30s\"}}]}]}}}");
    free(text);
    cJSON_Delete(o);

    /* precopy of a stateless workload: resources only, Velero's default
     * location and hook timeout, no hooks */
    struct mig_backup_spec pre = {
        .name = "floe-dc1-web-7-1", .namespace_ = "web", .ttl_ms = 1500, .migration_id = 7};
    o = parse_checked(mig_velero_backup_json(&pre, err, sizeof err),
                      CRD_DIR "velero.io_backups.json");
    const cJSON *spec = cJSON_GetObjectItem(o, "spec");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(spec, "defaultVolumesToFsBackup")));
    assert_string_equal(str_at(o, "spec", "ttl"), "1.5s");
    assert_null(cJSON_GetObjectItem(spec, "storageLocation"));
    assert_null(cJSON_GetObjectItem(spec, "hooks"));
    assert_null(cJSON_GetObjectItem(spec, "snapshotMoveData"));
    cJSON_Delete(o);

    /* the data mover; a hook timeout under a second; TTL forms */
    const char *const one[] = {"sync"};
    struct mig_backup_spec dm = {.name = "b",
                                 .namespace_ = "db",
                                 .snapshot_move_data = true,
                                 .ttl_ms = 3600 * 1000 + 61500,
                                 .quiesce = one,
                                 .nquiesce = 1,
                                 .hook_timeout_ms = 250};
    o = parse_checked(mig_velero_backup_json(&dm, err, sizeof err),
                      CRD_DIR "velero.io_backups.json");
    assert_true(
        cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "snapshotMoveData")));
    assert_string_equal(str_at(o, "spec", "ttl"), "1h1m1.5s");
    const cJSON *exec = cJSON_GetObjectItem(
        cJSON_GetArrayItem(
            cJSON_GetObjectItem(
                cJSON_GetArrayItem(
                    cJSON_GetObjectItem(
                        cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "hooks"), "resources"),
                    0),
                "pre"),
            0),
        "exec");
    assert_string_equal(cJSON_GetObjectItem(exec, "timeout")->valuestring, "250ms");
    cJSON_Delete(o);
    dm.ttl_ms = 120000;
    dm.hook_timeout_ms = 0; /* Velero's default: no timeout key */
    o = parse_checked(mig_velero_backup_json(&dm, err, sizeof err),
                      CRD_DIR "velero.io_backups.json");
    assert_string_equal(str_at(o, "spec", "ttl"), "2m0s");
    text = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "spec"), "hooks"));
    assert_string_equal(text, "{\"resources\":[{\"name\":\"floe-quiesce\",\"includedNamespaces\":"
                              "[\"db\"],\"pre\":[{\"exec\":{\"command\":[\"sync\"],\"onError\":"
                              "\"Fail\"}}]}]}");
    free(text);
    cJSON_Delete(o);
}

static void an_invalid_backup_or_restore_spec_is_refused(void **unused)
{
    (void)unused;
    char err[256];
    char long_name[70];
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    const char *const empty_word[] = {"fsfreeze", ""};
    const struct {
        struct mig_backup_spec b;
        const char *err;
    } cases[] = {
        {{.name = long_name, .namespace_ = "shop", .ttl_ms = 1000},
         "backup name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": not "
         "1..63 of [a-z0-9-]"},
        {{.name = "b", .namespace_ = "Shop", .ttl_ms = 1000},
         "backup b: namespace \"Shop\" is not a namespace name"},
        {{.name = "b", .namespace_ = NULL, .ttl_ms = 1000},
         "backup b: namespace \"\" is not a namespace name"},
        {{.name = "b", .namespace_ = "shop", .ttl_ms = 999}, "backup b: ttl 999 ms is below 1 s"},
        {{.name = "b", .namespace_ = "shop", .ttl_ms = 1000, .storage_location = "a/b"},
         "backup b: storage location \"a/b\" is not a name"},
        {{.name = "b", .namespace_ = "shop", .ttl_ms = 1000, .migration_id = -1},
         "backup b: migration id -1 is negative"},
        {{.name = "b", .namespace_ = "shop", .ttl_ms = 1000, .quiesce = empty_word, .nquiesce = 2},
         "backup b: quiesce command word 1 is empty"},
        {{.name = "b", .namespace_ = "shop", .ttl_ms = 1000, .quiesce = NULL, .nquiesce = 1},
         "backup b: quiesce command word 0 is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        char *json = mig_velero_backup_json(&cases[i].b, err, sizeof err);
        if (json || strcmp(err, cases[i].err) != 0)
            fail_msg("case %zu: %s / %s", i, json ? json : "NULL", err);
    }
    struct mig_restore_spec r = {.name = "r", .backup_name = "b", .namespace_ = "shop"};
    r.name = "R";
    assert_null(mig_velero_restore_json(&r, err, sizeof err));
    assert_string_equal(err, "restore name \"R\": not 1..63 of [a-z0-9-]");
    r.name = "r";
    r.backup_name = long_name;
    assert_null(mig_velero_restore_json(&r, err, sizeof err));
    assert_string_equal(err, "restore r: backup name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                             "aaaaaaaaaaaaaaaaaaaa\": not 1..63 of [a-z0-9-]");
    r.backup_name = "b";
    r.namespace_ = "-x";
    assert_null(mig_velero_restore_json(&r, err, sizeof err));
    assert_string_equal(err, "restore r: namespace \"-x\" is not a namespace name");
}

static void a_restore_is_within_the_schema_and_incremental_only_when_asked(void **unused)
{
    (void)unused;
    struct mig_restore_spec r = {.name = "floe-dc2-shop-42-4",
                                 .backup_name = "floe-dc1-shop-42-3",
                                 .namespace_ = "shop",
                                 .migration_id = 42};
    char err[256] = "";
    cJSON *o = parse_checked(mig_velero_restore_json(&r, err, sizeof err),
                             CRD_DIR "velero.io_restores.json");
    char *text = cJSON_PrintUnformatted(o);
    assert_string_equal(text, "{\"apiVersion\":\"velero.io/v1\",\"kind\":\"Restore\",\"metadata\":"
                              "{\"name\":\"floe-dc2-shop-42-4\",\"labels\":{\"floe.dev/"
                              "migration\":\"42\"}},\"spec\":{\"backupName\":\"floe-dc1-shop-42-"
                              "3\",\"includedNamespaces\":[\"shop\"],\"restorePVs\":true}}");
    free(text);
    cJSON_Delete(o);

    /* existingVolumeDataPolicy is in no released Velero: v1.18.1's schema
     * refuses it, which is why it is there only when asked */
    r.incremental = true;
    char *json = mig_velero_restore_json(&r, err, sizeof err);
    cJSON *inc = cJSON_Parse(json);
    free(json);
    assert_string_equal(str_at(inc, "spec", "existingVolumeDataPolicy"), "incremental");
    cJSON *crd = load_crd(CRD_DIR "velero.io_restores.json");
    char why[512] = "";
    assert_int_equal(check_schema(inc, openapi_schema(crd), "", why, sizeof why), -1);
    assert_string_equal(why, "spec.existingVolumeDataPolicy: unknown field (not in the CRD "
                             "schema)");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(inc, "spec"), "existingVolumeDataPolicy");
    assert_int_equal(check_schema(inc, openapi_schema(crd), "", why, sizeof why), 0);
    cJSON_Delete(crd);
    cJSON_Delete(inc);
}

/* ---- names ---- */

static uint32_t fnv1a_reference(const char *s)
{
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x01000193u;
    return h;
}

static void names_fit_63_and_long_ones_stay_apart(void **unused)
{
    (void)unused;
    char out[MIG_VELERO_NAME_MAX + 1];
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", "shop", 42, 3), 0);
    assert_string_equal(out, "floe-dc1-shop-42-3");
    /* FNV-1a as published (the empty string, "a") */
    assert_int_equal(fnv1a_reference(""), 0x811c9dc5u);
    assert_int_equal(fnv1a_reference("a"), 0xe40c292cu);

    /* exactly 63 stays as it is */
    char ns[64];
    memset(ns, 'n', sizeof ns);
    ns[63 - strlen("floe-dc1--1-2")] = '\0';
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", ns, 1, 2), 0);
    assert_int_equal(strlen(out), 63);
    assert_true(kube_name_valid(out));
    assert_string_equal(out + 59, "-1-2");

    /* one more: the start, '-', FNV-1a of the whole name */
    memset(ns, 'n', sizeof ns);
    ns[63] = '\0'; /* the longest namespace */
    char raw[200], want[80];
    snprintf(raw, sizeof raw, "floe-dc1-%s-123456789-17", ns);
    snprintf(want, sizeof want, "%.54s-%08x", raw, fnv1a_reference(raw));
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", ns, 123456789, 17), 0);
    assert_string_equal(out, want);
    assert_int_equal(strlen(out), 63);
    assert_true(kube_name_valid(out));
    /* the same start, another sequence number: another name */
    char other[MIG_VELERO_NAME_MAX + 1];
    assert_int_equal(mig_velero_name(other, sizeof other, "dc1", ns, 123456789, 18), 0);
    assert_int_equal(strncmp(out, other, 54), 0);
    assert_string_not_equal(out, other);

    /* a site name the config allows but a name cannot hold */
    assert_int_equal(mig_velero_name(out, sizeof out, "DC_North.1", "shop", 5, 1), 0);
    snprintf(want, sizeof want, "floe-dc-north-1-shop-5-1-%08x",
             fnv1a_reference("floe-DC_North.1-shop-5-1"));
    assert_string_equal(out, want);
    assert_true(kube_name_valid(out));

    assert_int_equal(mig_velero_name(out, sizeof out, "", "shop", 1, 1), -1);
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", NULL, 1, 1), -1);
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", "shop", -1, 1), -1);
    assert_int_equal(mig_velero_name(out, sizeof out, "dc1", "shop", 1, -1), -1);
    assert_int_equal(mig_velero_name(out, MIG_VELERO_NAME_MAX, "dc1", "shop", 1, 1), -1);
}

/* ---- phases ---- */

static void every_phase_of_both_crds_is_classified(void **unused)
{
    (void)unused;
    static const struct {
        const char *phase;
        enum mig_vclass cls;
    } want[] = {
        {"New", MIG_V_RUNNING},
        {"Queued", MIG_V_RUNNING},
        {"ReadyToStart", MIG_V_RUNNING},
        {"InProgress", MIG_V_RUNNING},
        {"WaitingForPluginOperations", MIG_V_RUNNING},
        {"WaitingForPluginOperationsPartiallyFailed", MIG_V_RUNNING},
        {"Finalizing", MIG_V_RUNNING},
        {"FinalizingPartiallyFailed", MIG_V_RUNNING},
        {"Completed", MIG_V_COMPLETED},
        {"PartiallyFailed", MIG_V_PARTIAL},
        {"Failed", MIG_V_FAILED},
        {"FailedValidation", MIG_V_FAILED},
        {"Deleting", MIG_V_DELETING},
    };
    /* every phase either CRD's enum lists has its class above */
    static const char *const files[] = {CRD_DIR "velero.io_backups.json",
                                        CRD_DIR "velero.io_restores.json"};
    for (size_t f = 0; f < 2; f++) {
        cJSON *crd = load_crd(files[f]);
        const cJSON *phase = cJSON_GetObjectItem(
            cJSON_GetObjectItem(
                cJSON_GetObjectItem(cJSON_GetObjectItem(openapi_schema(crd), "properties"),
                                    "status"),
                "properties"),
            "phase");
        const cJSON *e;
        int seen = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(phase, "enum"))
        {
            size_t i = 0;
            while (i < sizeof want / sizeof want[0] && strcmp(want[i].phase, e->valuestring) != 0)
                i++;
            if (i == sizeof want / sizeof want[0])
                fail_msg("%s: phase %s has no expected class", files[f], e->valuestring);
            if (mig_velero_classify(e->valuestring) != want[i].cls)
                fail_msg("%s: %s is %s", files[f], e->valuestring,
                         mig_vclass_name(mig_velero_classify(e->valuestring)));
            seen++;
        }
        assert_int_equal(seen, f == 0 ? 13 : 10);
        cJSON_Delete(crd);
    }
    assert_int_equal(mig_velero_classify(""), MIG_V_RUNNING);
    assert_int_equal(mig_velero_classify(NULL), MIG_V_RUNNING);
    assert_int_equal(mig_velero_classify("Paused"), MIG_V_RUNNING); /* a later Velero's */
    assert_int_equal(mig_velero_classify("completed"), MIG_V_RUNNING);
    static const char *const names[] = {"running", "completed", "partial",
                                        "failed",  "deleting",  "gone"};
    for (int c = MIG_V_RUNNING; c <= MIG_V_GONE; c++)
        assert_string_equal(mig_vclass_name((enum mig_vclass)c), names[c]);
}

static void a_velero_restart_is_told_from_other_failures(void **unused)
{
    (void)unused;
    assert_true(mig_velero_restart_failure("found a backup with status \"InProgress\" during the "
                                           "server starting, mark it as \"Failed\""));
    assert_true(mig_velero_restart_failure("found a restore with status \"InProgress\" during the "
                                           "server starting, mark it as \"Failed\""));
    assert_false(mig_velero_restart_failure("error getting backup storage location: "
                                            "backupstoragelocation.velero.io \"x\" not found"));
    assert_false(mig_velero_restart_failure(""));
    assert_false(mig_velero_restart_failure(NULL));
}

/* ---- against a server ---- */

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

static int reset(void **state)
{
    struct fixture *f = *state;
    fake_http_reset(f->srv);
    return 0;
}

#define BACKUPS "/apis/velero.io/v1/namespaces/velero/backups"
#define RESTORES "/apis/velero.io/v1/namespaces/velero/restores"

static void creating_twice_is_creating_once(void **state)
{
    struct fixture *f = *state;
    struct mig_backup_spec b = {
        .name = "floe-dc1-shop-1-1", .namespace_ = "shop", .ttl_ms = 3600000, .migration_id = 1};
    char err[512] = "";
    fake_http_route(f->srv, "POST", BACKUPS "?fieldValidation=Strict", 201,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"floe-dc1-shop-1-1\"}}");
    assert_int_equal(mig_velero_create_backup(f->kc, "velero", &b, 0, err, sizeof err), 0);
    struct fake_http_request q;
    assert_int_equal(fake_http_request(f->srv, 0, &q), 0);
    assert_string_equal(q.method, "POST");
    assert_string_equal(q.path, BACKUPS "?fieldValidation=Strict");
    assert_string_equal(q.content_type, "application/json");
    char *json = mig_velero_backup_json(&b, err, sizeof err);
    assert_string_equal(q.body, json);
    free(json);

    /* after a restart the same deterministic name is already there */
    fake_http_route(f->srv, "POST", BACKUPS "?fieldValidation=Strict", 409,
                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"backups.velero.io "
                    "\\\"floe-dc1-shop-1-1\\\" already exists\",\"reason\":\"AlreadyExists\","
                    "\"code\":409}");
    assert_int_equal(mig_velero_create_backup(f->kc, "velero", &b, 0, err, sizeof err), 0);

    /* a refusal in the API server's words */
    fake_http_route(f->srv, "POST", BACKUPS "?fieldValidation=Strict", 400,
                    "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"Backup in version "
                    "\\\"v1\\\" cannot be handled as a Backup: strict decoding error: unknown "
                    "field \\\"spec.x\\\"\",\"reason\":\"BadRequest\",\"code\":400}");
    assert_int_equal(mig_velero_create_backup(f->kc, "velero", &b, 0, err, sizeof err), -1);
    assert_string_equal(err, "POST " BACKUPS "?fieldValidation=Strict: 400 BadRequest: Backup in "
                             "version \"v1\" cannot be handled as a Backup: strict decoding "
                             "error: unknown field \"spec.x\"");

    struct mig_restore_spec r = {
        .name = "floe-dc2-shop-1-2", .backup_name = "floe-dc1-shop-1-1", .namespace_ = "shop"};
    fake_http_route(f->srv, "POST", RESTORES "?fieldValidation=Strict", 201, "{}");
    assert_int_equal(mig_velero_create_restore(f->kc, "velero", &r, 0, err, sizeof err), 0);
    assert_int_equal(fake_http_request(f->srv, 3, &q), 0);
    assert_string_equal(q.path, RESTORES "?fieldValidation=Strict");
    json = mig_velero_restore_json(&r, err, sizeof err);
    assert_string_equal(q.body, json);
    free(json);

    /* refused before any request */
    size_t before = fake_http_count(f->srv);
    assert_int_equal(mig_velero_create_restore(f->kc, "velero/x", &r, 0, err, sizeof err), -1);
    assert_string_equal(err, "Velero namespace \"velero/x\" is not a namespace name");
    b.ttl_ms = 0;
    assert_int_equal(mig_velero_create_backup(f->kc, "velero", &b, 0, err, sizeof err), -1);
    assert_string_equal(err, "backup floe-dc1-shop-1-1: ttl 0 ms is below 1 s");
    assert_int_equal(fake_http_count(f->srv), before);
}

static void a_backup_is_read_and_classified(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    struct mig_vstatus st;
    fake_http_route(
        f->srv, "GET", BACKUPS "/b1", 200,
        "{\"apiVersion\":\"velero.io/v1\",\"kind\":\"Backup\",\"metadata\":{\"name\":\"b1\","
        "\"namespace\":\"velero\",\"creationTimestamp\":\"2026-11-25T10:49:05Z\"},\"spec\":{\"includedNamespaces\":[\"shop\"],"
        "\"storageLocation\":\"default\",\"ttl\":\"72h0m0s\"},\"status\":{\"phase\":"
        "\"Completed\",\"startTimestamp\":\"2026-11-25T10:49:07Z\",\"completionTimestamp\":"
        "\"2026-11-25T10:52:07Z\",\"expiration\":\"2026-11-28T10:49:07Z\",\"errors\":0,"
        "\"warnings\":2,\"progress\":{\"itemsBackedUp\":40,\"totalItems\":40},\"version\":1,"
        "\"formatVersion\":\"1.1.0\"}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b1", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.cls, MIG_V_COMPLETED);
    assert_string_equal(st.phase, "Completed");
    assert_string_equal(st.storage_location, "default");
    assert_string_equal(st.reason, "");
    int64_t t0;
    assert_int_equal(util_parse_time_ms("2026-11-25T10:49:07Z", &t0), 0);
    assert_int_equal(st.started_ms, t0);
    assert_int_equal(st.completed_ms, t0 + 180000);
    assert_int_equal(st.created_ms, t0 - 2000);
    assert_int_equal(st.errors, 0);
    assert_int_equal(st.warnings, 2);

    /* a creation time that is not a time: named */
    fake_http_route(f->srv, "GET", BACKUPS "/b1", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b1\","
                    "\"creationTimestamp\":\"yesterday\"},\"spec\":{}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b1", 0, &st, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "metadata.creationTimestamp: not an RFC 3339 time"));

    /* just created: no status at all yet */
    fake_http_route(f->srv, "GET", BACKUPS "/b1", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b1\"},\"spec\":{}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b1", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.cls, MIG_V_RUNNING);
    assert_string_equal(st.phase, "");
    assert_int_equal(st.started_ms, 0);

    /* a Velero restart: Failed with its fixed reason */
    fake_http_route(f->srv, "GET", RESTORES "/r1", 200,
                    "{\"kind\":\"Restore\",\"metadata\":{\"name\":\"r1\"},\"spec\":{\"backupName\":"
                    "\"b1\"},\"status\":{\"phase\":\"Failed\",\"failureReason\":\"found a restore "
                    "with status \\\"InProgress\\\" during the server starting, mark it as "
                    "\\\"Failed\\\"\",\"startTimestamp\":null,\"completionTimestamp\":null}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_RESTORE, "r1", 0, &st, err, sizeof err),
                     0);
    assert_int_equal(st.cls, MIG_V_FAILED);
    assert_true(mig_velero_restart_failure(st.reason));
    assert_string_equal(st.storage_location, "");

    /* FailedValidation: the reasons joined */
    fake_http_route(f->srv, "GET", BACKUPS "/b2", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b2\"},\"status\":{\"phase\":"
                    "\"FailedValidation\",\"validationErrors\":[\"an existing backup storage "
                    "location was not specified\",\"invalid\\nttl\"]}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b2", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.cls, MIG_V_FAILED);
    assert_string_equal(st.reason, "validation: an existing backup storage location was not "
                                   "specified; invalid?ttl");
    fake_http_route(f->srv, "GET", BACKUPS "/b2", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b2\"},\"status\":{\"phase\":"
                    "\"Failed\",\"failureReason\":\"boom\",\"validationErrors\":[\"x\"]}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b2", 0, &st, err, sizeof err), 0);
    assert_string_equal(st.reason, "boom; validation: x");
    /* PartiallyFailed says how many errors */
    fake_http_route(f->srv, "GET", BACKUPS "/b2", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b2\"},\"status\":{\"phase\":"
                    "\"PartiallyFailed\",\"errors\":3,\"warnings\":1}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b2", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.cls, MIG_V_PARTIAL);
    assert_string_equal(st.reason, "3 errors, 1 warnings");
    /* a running one has no reason, whatever a field says */
    fake_http_route(f->srv, "GET", BACKUPS "/b2", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b2\"},\"status\":{\"phase\":"
                    "\"InProgress\",\"failureReason\":\"stale\"}}");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b2", 0, &st, err, sizeof err), 0);
    assert_int_equal(st.cls, MIG_V_RUNNING);
    assert_string_equal(st.reason, "");

    /* gone */
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "nope", 0, &st, err, sizeof err),
                     0);
    assert_int_equal(st.cls, MIG_V_GONE);
    struct fake_http_request q;
    assert_int_equal(fake_http_request(f->srv, fake_http_count(f->srv) - 1, &q), 0);
    assert_string_equal(q.path, BACKUPS "/nope");
}

static void garbage_velero_answers_are_errors_naming_the_field(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *body, *err;
    } cases[] = {
        {"{\"kind\":\"Restore\",\"metadata\":{\"name\":\"b1\"}}",
         "backup b1: the answer is not a Backup"},
        {"{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b9\"}}",
         "backup b1: metadata.name: not b1"},
        {"{\"kind\":\"Backup\",\"metadata\":{}}", "backup b1: metadata.name: not b1"},
        {"[1]", "backup b1: the answer is not a Backup"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"phase\":7}}",
         "backup b1: status.phase: not a string"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"errors\":\"3\"}}",
         "backup b1: status.errors: not a whole number >= 0"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"warnings\":-1}}",
         "backup b1: status.warnings: not a whole number >= 0"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"errors\":1e12}}",
         "backup b1: status.errors: not a whole number >= 0"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"startTimestamp\":\"yesterday\"}}",
         "backup b1: status.startTimestamp: not an RFC 3339 time"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"completionTimestamp\":5}}",
         "backup b1: status.completionTimestamp: not an RFC 3339 time"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"failureReason\":[]}}",
         "backup b1: status.failureReason: not a string"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"validationErrors\":\"x\"}}",
         "backup b1: status.validationErrors: not an array"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":{\"validationErrors\":[1]}}",
         "backup b1: status.validationErrors: not an array of strings"},
        {"{\"metadata\":{\"name\":\"b1\"},\"status\":\"Completed\"}",
         "backup b1: status: not an object"},
        {"{\"metadata\":{\"name\":\"b1\"},\"spec\":[]}", "backup b1: spec: not an object"},
        {"{\"metadata\":{\"name\":\"b1\"},\"spec\":{\"storageLocation\":true}}",
         "backup b1: spec.storageLocation: not a name"},
        {"{\"metadata\":{\"name\":\"b1\"},\"spec\":{\"storageLocation\":\"a-very-long-location-"
         "name-that-does-not-fit-in-sixty-four-bytes-at-all\"}}",
         "backup b1: spec.storageLocation: not a name"},
    };
    char err[512];
    struct mig_vstatus st;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_http_route(f->srv, "GET", BACKUPS "/b1", 200, cases[i].body);
        err[0] = '\0';
        int rc = mig_velero_get(f->kc, "velero", MIG_BACKUP, "b1", 0, &st, err, sizeof err);
        if (rc != -1 || strcmp(err, cases[i].err) != 0)
            fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err, cases[i].err);
        assert_int_equal(st.cls, MIG_V_RUNNING); /* never anything final on a bad answer */
    }
    fake_http_route(f->srv, "GET", BACKUPS "/b1", 503, "upstream timeout");
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "b1", 0, &st, err, sizeof err),
                     -1);
    assert_string_equal(err, "GET " BACKUPS "/b1: 503 Service Unavailable: the answer is not a "
                             "Kubernetes Status: upstream timeout");
    size_t before = fake_http_count(f->srv);
    assert_int_equal(mig_velero_get(f->kc, "velero", MIG_BACKUP, "../b1", 0, &st, err, sizeof err),
                     -1);
    assert_string_equal(err, "backup name \"../b1\": not 1..63 of [a-z0-9-]");
    assert_int_equal(fake_http_count(f->srv), before);
}

static void deleting_what_is_gone_is_done(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    fake_http_route(f->srv, "DELETE", BACKUPS "/b1", 200,
                    "{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b1\"}}");
    assert_int_equal(mig_velero_delete(f->kc, "velero", MIG_BACKUP, "b1", 0, err, sizeof err), 0);
    struct fake_http_request q;
    assert_int_equal(fake_http_request(f->srv, 0, &q), 0);
    assert_string_equal(q.method, "DELETE");
    assert_string_equal(q.path, BACKUPS "/b1");
    /* no route: 404 */
    assert_int_equal(mig_velero_delete(f->kc, "velero", MIG_RESTORE, "r1", 0, err, sizeof err), 0);
    assert_int_equal(fake_http_request(f->srv, 1, &q), 0);
    assert_string_equal(q.path, RESTORES "/r1");
    fake_http_route(f->srv, "DELETE", RESTORES "/r1", 500,
                    "{\"kind\":\"Status\",\"message\":\"etcdserver: request timed out\","
                    "\"reason\":\"InternalError\",\"code\":500}");
    assert_int_equal(mig_velero_delete(f->kc, "velero", MIG_RESTORE, "r1", 0, err, sizeof err), -1);
    assert_string_equal(err, "DELETE " RESTORES "/r1: 500 InternalError: etcdserver: request "
                             "timed out");
}

static void bytes_are_summed_over_the_volume_uploads(void **state)
{
    struct fixture *f = *state;
    char err[512] = "";
    double bytes = -1;
    const char *pvb = "/apis/velero.io/v1/namespaces/velero/podvolumebackups?labelSelector="
                      "velero.io%2Fbackup-name%3Dfloe-dc1-shop-1-1";
    fake_http_route(
        f->srv, "GET", pvb, 200,
        "{\"apiVersion\":\"velero.io/v1\",\"kind\":\"PodVolumeBackupList\",\"items\":["
        "{\"metadata\":{\"name\":\"floe-dc1-shop-1-1-x7k2p\",\"labels\":{\"velero.io/backup-name\":"
        "\"floe-dc1-shop-1-1\"}},\"status\":{\"phase\":\"Completed\",\"progress\":{\"totalBytes\":"
        "2000000000,\"bytesDone\":2000000000}}},"
        "{\"metadata\":{\"name\":\"floe-dc1-shop-1-1-q8d1z\"},\"status\":{\"phase\":"
        "\"InProgress\",\"progress\":{\"totalBytes\":500,\"bytesDone\":123}}},"
        "{\"metadata\":{\"name\":\"floe-dc1-shop-1-1-new\"},\"status\":{\"phase\":\"New\"}}]}");
    assert_int_equal(mig_velero_bytes(f->kc, "velero", MIG_BACKUP, "floe-dc1-shop-1-1", 0, &bytes,
                                      err, sizeof err),
                     0);
    assert_true(bytes == 2000000123.0);

    /* a resources-only backup has none */
    const char *pvr = "/apis/velero.io/v1/namespaces/velero/podvolumerestores?labelSelector="
                      "velero.io%2Frestore-name%3Dr1";
    fake_http_route(f->srv, "GET", pvr, 200, "{\"kind\":\"PodVolumeRestoreList\",\"items\":[]}");
    assert_int_equal(
        mig_velero_bytes(f->kc, "velero", MIG_RESTORE, "r1", 0, &bytes, err, sizeof err), 0);
    assert_true(bytes == 0);
    fake_http_route(f->srv, "GET", pvr, 200, "{\"kind\":\"PodVolumeRestoreList\"}");
    assert_int_equal(
        mig_velero_bytes(f->kc, "velero", MIG_RESTORE, "r1", 0, &bytes, err, sizeof err), 0);
    assert_true(bytes == 0);

    static const struct {
        const char *body, *err;
    } cases[] = {
        {"{\"kind\":\"PodVolumeRestoreList\",\"items\":[{\"metadata\":{\"name\":\"p\"},"
         "\"status\":{\"progress\":{\"bytesDone\":\"12\"}}}]}",
         "restore r1: p: status.progress.bytesDone: not a whole number >= 0"},
        {"{\"kind\":\"PodVolumeRestoreList\",\"items\":[{\"status\":{\"progress\":"
         "{\"bytesDone\":-5}}}]}",
         "restore r1: PodVolumeRestoreList items[0]: status.progress.bytesDone: not a whole "
         "number >= 0"},
        {"{\"items\":[{\"metadata\":{\"name\":\"p\"},\"status\":{\"progress\":7}}]}",
         "restore r1: p: status.progress: not an object"},
        {"{\"items\":[{\"metadata\":{\"name\":\"p\",\"labels\":{\"velero.io/restore-name\":"
         "\"r2\"}}}]}",
         "restore r1: p: metadata.labels velero.io/restore-name: not r1"},
        {"{\"items\":[3]}", "restore r1: PodVolumeRestoreList items[0]: not an object"},
        {"{\"items\":{}}", "restore r1: PodVolumeRestoreList items: not an array"},
        {"{\"kind\":\"PodVolumeBackupList\",\"items\":[]}",
         "restore r1: the answer is not a PodVolumeRestoreList"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake_http_route(f->srv, "GET", pvr, 200, cases[i].body);
        err[0] = '\0';
        bytes = 5;
        int rc = mig_velero_bytes(f->kc, "velero", MIG_RESTORE, "r1", 0, &bytes, err, sizeof err);
        if (rc != -1 || strcmp(err, cases[i].err) != 0 || bytes != 0)
            fail_msg("case %zu: rc %d \"%s\", want \"%s\"", i, rc, err, cases[i].err);
    }
    fake_http_route(f->srv, "GET", pvr, 403,
                    "{\"kind\":\"Status\",\"message\":\"podvolumerestores.velero.io is forbidden\","
                    "\"reason\":\"Forbidden\",\"code\":403}");
    assert_int_equal(
        mig_velero_bytes(f->kc, "velero", MIG_RESTORE, "r1", 0, &bytes, err, sizeof err), -1);
    assert_string_equal(err, "GET /apis/velero.io/v1/namespaces/velero/podvolumerestores?"
                             "labelSelector=velero.io%2Frestore-name%3Dr1: 403 Forbidden: "
                             "podvolumerestores.velero.io is forbidden");
}

int main(void)
{
    httpc_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_schema_checker_finds_unknown_and_mistyped_fields),
        cmocka_unit_test(a_final_backup_carries_the_quiesce_hook_within_the_schema),
        cmocka_unit_test(an_invalid_backup_or_restore_spec_is_refused),
        cmocka_unit_test(a_restore_is_within_the_schema_and_incremental_only_when_asked),
        cmocka_unit_test(names_fit_63_and_long_ones_stay_apart),
        cmocka_unit_test(every_phase_of_both_crds_is_classified),
        cmocka_unit_test(a_velero_restart_is_told_from_other_failures),
        cmocka_unit_test_setup(creating_twice_is_creating_once, reset),
        cmocka_unit_test_setup(a_backup_is_read_and_classified, reset),
        cmocka_unit_test_setup(garbage_velero_answers_are_errors_naming_the_field, reset),
        cmocka_unit_test_setup(deleting_what_is_gone_is_done, reset),
        cmocka_unit_test_setup(bytes_are_summed_over_the_volume_uploads, reset),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
