/*
 * test_sim_schema — the API server's handling of a Velero object's body
 * (sim/sim_schema.c) against Velero's own CRDs as built into floe-sim
 * (tests/data/velero-crds/): every kind of property the Backup and
 * Restore schemas have, unknown and duplicate fields (400, strict
 * decoding), schema errors (422 with causes), ObjectMeta, pruning of
 * nulls, and the exact messages a real API server gives.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_schema.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crds {
    struct sim_crd backup, restore;
};

static int setup(void **state)
{
    struct crds *c = calloc(1, sizeof *c);
    char err[256];
    if (!c || sim_crd_load(&c->backup, (const char *)sim_crd_backups_json, err, sizeof err) < 0 ||
        sim_crd_load(&c->restore, (const char *)sim_crd_restores_json, err, sizeof err) < 0)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct crds *c = *state;
    sim_crd_free(&c->backup);
    sim_crd_free(&c->restore);
    free(c);
    return 0;
}

/* A Backup (or Restore) body with the given spec members (JSON text
 * without braces) and extra top-level members. */
static cJSON *body(const char *kind, const char *spec, const char *extra)
{
    char text[8192];
    snprintf(text, sizeof text,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"%s\","
             " \"metadata\": {\"name\": \"b1\", \"namespace\": \"velero\","
             "  \"labels\": {\"floe.dev/migration\": \"7\"}},"
             " \"spec\": {%s}%s%s}",
             kind, spec, extra[0] ? ", " : "", extra);
    cJSON *o = cJSON_Parse(text);
    if (!o)
        fail_msg("test body is not JSON: %s", text);
    return o;
}

/* Checks obj; the HTTP status, and the Status's message in msg. */
static int check(const struct sim_crd *crd, cJSON *obj, char *msg, size_t n, cJSON **status_out)
{
    char *status = NULL;
    int code = sim_schema_check(crd, obj, &status);
    msg[0] = '\0';
    if (code) {
        assert_non_null(status);
        cJSON *st = cJSON_Parse(status);
        assert_non_null(st);
        assert_string_equal(cJSON_GetObjectItem(st, "kind")->valuestring, "Status");
        assert_int_equal(cJSON_GetObjectItem(st, "code")->valueint, code);
        snprintf(msg, n, "%s", cJSON_GetObjectItem(st, "message")->valuestring);
        if (status_out)
            *status_out = st;
        else
            cJSON_Delete(st);
    } else {
        assert_null(status);
    }
    free(status);
    return code;
}

static void crds_load_with_their_names(void **state)
{
    struct crds *c = *state;
    assert_string_equal(c->backup.kind, "Backup");
    assert_string_equal(c->backup.plural, "backups");
    assert_string_equal(c->backup.api_version, "velero.io/v1");
    assert_string_equal(c->restore.kind, "Restore");
    assert_string_equal(c->restore.plural, "restores");
    char err[256];
    struct sim_crd bad;
    assert_int_equal(
        sim_crd_load(&bad, "{\"kind\": \"CustomResourceDefinition\"}", err, sizeof err), -1);
    assert_non_null(strstr(err, "openAPIV3Schema"));
    assert_int_equal(sim_crd_load(&bad, "not json", err, sizeof err), -1);
}

/* What floe's migrator sends (mig_velero.h) is accepted as it is. */
static void migrator_objects_are_valid(void **state)
{
    struct crds *c = *state;
    char msg[2048];
    cJSON *b =
        body("Backup",
             "\"includedNamespaces\": [\"shop\"], \"defaultVolumesToFsBackup\": true,"
             " \"snapshotMoveData\": false, \"storageLocation\": \"falkenberg-minio\","
             " \"ttl\": \"72h0m0s\", \"hooks\": {\"resources\": [{\"name\": \"quiesce\","
             "  \"includedNamespaces\": [\"shop\"], \"pre\": [{\"exec\": {\"command\":"
             "  [\"/bin/sh\", \"-c\", \"sync\"], \"onError\": \"Fail\", \"timeout\": \"30s\"}}]}]}",
             "");
    assert_int_equal(check(&c->backup, b, msg, sizeof msg, NULL), 0);
    cJSON_Delete(b);
    cJSON *r = body("Restore",
                    "\"backupName\": \"floe-lulea-shop-7-3\", \"includedNamespaces\": [\"shop\"],"
                    " \"restorePVs\": true",
                    "");
    assert_int_equal(check(&c->restore, r, msg, sizeof msg, NULL), 0);
    cJSON_Delete(r);
    /* A Backup as Velero writes it back, status included (no status
     * subresource in Velero's CRDs). */
    cJSON *done =
        body("Backup", "\"storageLocation\": \"default\"",
             "\"status\": {\"phase\": \"Completed\", \"version\": 1,"
             " \"formatVersion\": \"1.1.0\", \"startTimestamp\": \"2026-11-30T09:00:00Z\","
             " \"completionTimestamp\": \"2026-11-30T09:42:07Z\","
             " \"expiration\": \"2026-12-03T09:00:00Z\", \"progress\": {\"totalItems\": 4,"
             " \"itemsBackedUp\": 4}, \"hookStatus\": {\"hooksAttempted\": 3},"
             " \"validationErrors\": null, \"errors\": 0, \"warnings\": 0}");
    assert_int_equal(check(&c->backup, done, msg, sizeof msg, NULL), 0);
    cJSON_Delete(done);
}

/* One wrong value of each kind of property in the real schemas: the 422
 * message is the API server's, word for word. */
static void every_property_type_is_checked(void **state)
{
    struct crds *c = *state;
    static const struct {
        const char *name;
        bool restore;
        const char *spec, *extra;
        const char *message;
    } cases[] = {
        {"string", false, "\"ttl\": 72", "",
         "Backup.velero.io \"b1\" is invalid: spec.ttl: Invalid value: \"integer\": spec.ttl in "
         "body "
         "must be of type string: \"integer\""},
        {"boolean", false, "\"defaultVolumesToFsBackup\": \"yes\"", "",
         "Backup.velero.io \"b1\" is invalid: spec.defaultVolumesToFsBackup: Invalid value: "
         "\"string\": spec.defaultVolumesToFsBackup in body must be of type boolean: \"string\""},
        {"array", false, "\"includedNamespaces\": \"shop\"", "",
         "Backup.velero.io \"b1\" is invalid: spec.includedNamespaces: Invalid value: \"string\": "
         "spec.includedNamespaces in body must be of type array: \"string\""},
        {"array_item", false, "\"includedNamespaces\": [\"shop\", 5]", "",
         "Backup.velero.io \"b1\" is invalid: spec.includedNamespaces[1]: Invalid value: "
         "\"integer\": spec.includedNamespaces[1] in body must be of type string: \"integer\""},
        {"object", false, "\"hooks\": [1]", "",
         "Backup.velero.io \"b1\" is invalid: spec.hooks: Invalid value: \"array\": spec.hooks in "
         "body must be of type object: \"array\""},
        {"integer", false, "\"uploaderConfig\": {\"parallelFilesUpload\": 1.5}", "",
         "Backup.velero.io \"b1\" is invalid: spec.uploaderConfig.parallelFilesUpload: Invalid "
         "value: \"number\": spec.uploaderConfig.parallelFilesUpload in body must be of type "
         "integer: \"number\""},
        {"enum", false,
         "\"hooks\": {\"resources\": [{\"name\": \"q\", \"pre\": [{\"exec\": {\"command\": "
         "[\"x\"], \"onError\": \"Ignore\"}}]}]}",
         "",
         "Backup.velero.io \"b1\" is invalid: spec.hooks.resources[0].pre[0].exec.onError: "
         "Unsupported value: \"Ignore\": supported values: \"Continue\", \"Fail\""},
        {"required", false, "\"hooks\": {\"resources\": [{\"pre\": []}]}", "",
         "Backup.velero.io \"b1\" is invalid: spec.hooks.resources[0].name: Required value"},
        {"required_nested", false, "\"resourcePolicy\": {\"name\": \"p\"}", "",
         "Backup.velero.io \"b1\" is invalid: spec.resourcePolicy.kind: Required value"},
        {"min_items", false,
         "\"hooks\": {\"resources\": [{\"name\": \"q\", \"pre\": [{\"exec\": {\"command\": "
         "[]}}]}]}",
         "",
         "Backup.velero.io \"b1\" is invalid: spec.hooks.resources[0].pre[0].exec.command: Invalid "
         "value: 0: spec.hooks.resources[0].pre[0].exec.command in body should have at least 1 "
         "items"},
        {"map_value", false, "\"labelSelector\": {\"matchLabels\": {\"app\": 1}}", "",
         "Backup.velero.io \"b1\" is invalid: spec.labelSelector.matchLabels.app: Invalid value: "
         "\"integer\": spec.labelSelector.matchLabels.app in body must be of type string: "
         "\"integer\""},
        {"date_time", false, "", "\"status\": {\"startTimestamp\": \"yesterday\"}",
         "Backup.velero.io \"b1\" is invalid: status.startTimestamp: Invalid value: \"yesterday\": "
         "status.startTimestamp in body must be of type date-time: \"yesterday\""},
        {"status_enum", false, "", "\"status\": {\"phase\": \"Done\"}",
         "Backup.velero.io \"b1\" is invalid: status.phase: Unsupported value: \"Done\": supported "
         "values: \"New\", \"Queued\", \"ReadyToStart\", \"FailedValidation\", \"InProgress\", "
         "\"WaitingForPluginOperations\", \"WaitingForPluginOperationsPartiallyFailed\", "
         "\"Finalizing\", \"FinalizingPartiallyFailed\", \"Completed\", \"PartiallyFailed\", "
         "\"Failed\", \"Deleting\""},
        {"restore_string", true, "\"backupName\": [\"b\"]", "",
         "Restore.velero.io \"b1\" is invalid: spec.backupName: Invalid value: \"array\": "
         "spec.backupName in body must be of type string: \"array\""},
        {"restore_map", true, "\"namespaceMapping\": {\"a\": true}", "",
         "Restore.velero.io \"b1\" is invalid: spec.namespaceMapping.a: Invalid value: "
         "\"boolean\": "
         "spec.namespaceMapping.a in body must be of type string: \"boolean\""},
        {"not_nullable_in_array", false, "\"includedNamespaces\": [null]", "",
         "Backup.velero.io \"b1\" is invalid: spec.includedNamespaces[0]: Invalid value: \"null\": "
         "spec.includedNamespaces[0] in body must be of type string: \"null\""},
        /* In the body's order (the API server's order is its map's). */
        {"two_errors", false, "\"ttl\": true, \"snapshotMoveData\": 1", "",
         "Backup.velero.io \"b1\" is invalid: [spec.ttl: Invalid value: \"boolean\": spec.ttl in "
         "body must be of type string: \"boolean\", spec.snapshotMoveData: Invalid value: "
         "\"integer\": spec.snapshotMoveData in body must be of type boolean: \"integer\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = body(cases[i].restore ? "Restore" : "Backup", cases[i].spec, cases[i].extra);
        char msg[2048];
        cJSON *st = NULL;
        int code = check(cases[i].restore ? &c->restore : &c->backup, o, msg, sizeof msg, &st);
        if (code != 422 || strcmp(msg, cases[i].message) != 0)
            fail_msg("%s: %d '%s'\n  want 422 '%s'", cases[i].name, code, msg, cases[i].message);
        assert_string_equal(cJSON_GetObjectItem(st, "reason")->valuestring, "Invalid");
        cJSON_Delete(st);
        cJSON_Delete(o);
    }
}

/* Every error is one cause naming its field, as clients read them. */
static void invalid_status_has_causes(void **state)
{
    struct crds *c = *state;
    cJSON *o = body("Backup", "\"ttl\": 1, \"includedNamespaces\": [2]", "");
    char msg[2048];
    cJSON *st = NULL;
    assert_int_equal(check(&c->backup, o, msg, sizeof msg, &st), 422);
    cJSON *d = cJSON_GetObjectItem(st, "details");
    assert_string_equal(cJSON_GetObjectItem(d, "name")->valuestring, "b1");
    assert_string_equal(cJSON_GetObjectItem(d, "group")->valuestring, "velero.io");
    assert_string_equal(cJSON_GetObjectItem(d, "kind")->valuestring, "Backup");
    cJSON *causes = cJSON_GetObjectItem(d, "causes");
    assert_int_equal(cJSON_GetArraySize(causes), 2);
    cJSON *c0 = cJSON_GetArrayItem(causes, 0);
    assert_string_equal(cJSON_GetObjectItem(c0, "reason")->valuestring, "FieldValueInvalid");
    assert_string_equal(cJSON_GetObjectItem(c0, "field")->valuestring, "spec.ttl");
    assert_string_equal(cJSON_GetObjectItem(c0, "message")->valuestring,
                        "Invalid value: \"integer\": spec.ttl in body must be of type string: "
                        "\"integer\"");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(causes, 1), "field")->valuestring,
                        "spec.includedNamespaces[0]");
    assert_int_equal(cJSON_GetObjectItem(st, "code")->valueint, 422);
    cJSON_Delete(st);
    cJSON_Delete(o);
}

/* Fields the schema does not know are a 400 before any validation,
 * worded as Kubernetes' strict field validation words them. */
static void unknown_fields_are_bad_requests(void **state)
{
    struct crds *c = *state;
    static const struct {
        const char *name;
        bool restore;
        const char *spec, *extra;
        const char *why;
    } cases[] = {
        {"spec", false, "\"foo\": 1", "", "unknown field \"spec.foo\""},
        {"nested", false,
         "\"hooks\": {\"resources\": [{\"name\": \"q\", \"pre\": [{\"exec\": {\"command\": "
         "[\"x\"], \"timeoutSeconds\": 5}}]}]}",
         "", "unknown field \"spec.hooks.resources[0].pre[0].exec.timeoutSeconds\""},
        {"two", false, "\"foo\": 1, \"ttl\": \"1h\", \"bar\": 2", "",
         "unknown field \"spec.foo\", unknown field \"spec.bar\""},
        {"top_level", false, "", "\"extra\": {}", "unknown field \"extra\""},
        {"status", false, "", "\"status\": {\"bytesDone\": 5}",
         "unknown field \"status.bytesDone\""},
        {"metadata", false, "", "\"metadata2\": 1", "unknown field \"metadata2\""},
        {"duplicate", false, "\"ttl\": \"1h\", \"ttl\": \"2h\"", "",
         "duplicate field \"spec.ttl\""},
        /* Not in Velero v1.18.1: a real cluster refuses it the same way. */
        {"unreleased_field", true,
         "\"backupName\": \"b\", \"existingVolumeDataPolicy\": \"incremental\"", "",
         "unknown field \"spec.existingVolumeDataPolicy\""},
        /* Unknown beats invalid: the decoder runs first. */
        {"unknown_and_invalid", false, "\"ttl\": 5, \"foo\": 1", "", "unknown field \"spec.foo\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = body(cases[i].restore ? "Restore" : "Backup", cases[i].spec, cases[i].extra);
        char msg[2048], want[2048];
        const char *kind = cases[i].restore ? "Restore" : "Backup";
        snprintf(want, sizeof want,
                 "%s in version \"v1\" cannot be handled as a %s: strict decoding error: %s", kind,
                 kind, cases[i].why);
        cJSON *st = NULL;
        int code = check(cases[i].restore ? &c->restore : &c->backup, o, msg, sizeof msg, &st);
        if (code != 400 || strcmp(msg, want) != 0)
            fail_msg("%s: %d '%s'\n  want 400 '%s'", cases[i].name, code, msg, want);
        assert_string_equal(cJSON_GetObjectItem(st, "reason")->valuestring, "BadRequest");
        assert_null(cJSON_GetObjectItem(st, "details"));
        cJSON_Delete(st);
        cJSON_Delete(o);
    }
}

/* x-kubernetes-preserve-unknown-fields: anything goes below it. */
static void preserved_fields_take_anything(void **state)
{
    struct crds *c = *state;
    cJSON *o = body("Restore",
                    "\"backupName\": \"b\", \"hooks\": {\"resources\": [{\"name\": \"init\","
                    " \"postHooks\": [{\"init\": {\"initContainers\": [{\"name\": \"c\","
                    " \"image\": \"busybox\", \"anything\": {\"deep\": [1, 2]}}]}}]}]}",
                    "");
    char msg[2048];
    assert_int_equal(check(&c->restore, o, msg, sizeof msg, NULL), 0);
    cJSON_Delete(o);
}

/* A null where the schema says nullable stays; elsewhere it is dropped. */
static void nulls_are_pruned_unless_nullable(void **state)
{
    struct crds *c = *state;
    cJSON *o = body("Backup", "\"ttl\": null, \"defaultVolumesToFsBackup\": null", "");
    char msg[2048];
    assert_int_equal(check(&c->backup, o, msg, sizeof msg, NULL), 0);
    cJSON *spec = cJSON_GetObjectItem(o, "spec");
    assert_null(cJSON_GetObjectItem(spec, "ttl"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(spec, "defaultVolumesToFsBackup")));
    cJSON_Delete(o);
}

static void metadata_is_object_meta(void **state)
{
    struct crds *c = *state;
    char long_name[300];
    memset(long_name, 'a', 254);
    long_name[254] = '\0';
    char long_meta[400];
    snprintf(long_meta, sizeof long_meta, "{\"name\": \"%s\"}", long_name);
    static const char *const bad_name =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
        "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
        "used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    char want_bad[1024], want_long[1024];
    snprintf(want_bad, sizeof want_bad,
             "Backup.velero.io \"Shop_1\" is invalid: metadata.name: Invalid value: \"Shop_1\": %s",
             bad_name);
    snprintf(want_long, sizeof want_long,
             "Backup.velero.io \"%s\" is invalid: metadata.name: Invalid value: \"%s\": must be no "
             "more than 253 characters",
             long_name, long_name);
    const struct {
        const char *name;
        const char *meta;
        int code;
        const char *message;
    } cases[] = {
        {"no_name", "{\"namespace\": \"velero\"}", 422,
         "Backup.velero.io \"\" is invalid: metadata.name: Required value: name or generateName is "
         "required"},
        {"bad_name", "{\"name\": \"Shop_1\"}", 422, want_bad},
        {"long_name", long_meta, 422, want_long},
        /* Up to 253 characters is a valid object name (labels are
         * another matter: sim_velero shortens them as Velero does). */
        {"sixty_four",
         "{\"name\": \"floe-lulea-1-a-namespace-with-a-rather-long-name-1234-12345\"}", 0, ""},
        {"label_value", "{\"name\": \"b1\", \"labels\": {\"a\": \"x y\"}}", 422,
         "Backup.velero.io \"b1\" is invalid: metadata.labels: Invalid value: \"x y\": a valid "
         "label "
         "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
         "start and end with an alphanumeric character"},
        {"label_key", "{\"name\": \"b1\", \"labels\": {\"-a\": \"x\"}}", 422,
         "Backup.velero.io \"b1\" is invalid: metadata.labels: Invalid value: \"-a\": name part "
         "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
         "alphanumeric character"},
        {"annotation_any_value", "{\"name\": \"b1\", \"annotations\": {\"a/b\": \"x y !\"}}", 0,
         ""},
        {"unknown_meta", "{\"name\": \"b1\", \"nmae\": \"x\"}", 400,
         "Backup in version \"v1\" cannot be handled as a Backup: strict decoding error: unknown "
         "field \"metadata.nmae\""},
        {"name_type", "{\"name\": 5}", 400,
         "Backup in version \"v1\" cannot be handled as a Backup: json: cannot unmarshal number "
         "into Go struct field ObjectMeta.metadata.name of type string"},
        {"label_type", "{\"name\": \"b1\", \"labels\": {\"a\": true}}", 400,
         "Backup in version \"v1\" cannot be handled as a Backup: json: cannot unmarshal bool into "
         "Go struct field ObjectMeta.metadata.labels of type string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        snprintf(text, sizeof text,
                 "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": %s,"
                 " \"spec\": {}}",
                 cases[i].meta);
        cJSON *o = cJSON_Parse(text);
        assert_non_null(o);
        char msg[2048];
        int code = check(&c->backup, o, msg, sizeof msg, NULL);
        if (code != cases[i].code || strcmp(msg, cases[i].message) != 0)
            fail_msg("%s: %d '%s'\n  want %d '%s'", cases[i].name, code, msg, cases[i].code,
                     cases[i].message);
        cJSON_Delete(o);
    }
}

static void kind_and_api_version_must_match(void **state)
{
    struct crds *c = *state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"{\"apiVersion\": \"velero.io/v1\", \"metadata\": {\"name\": \"b\"}}",
         "Object 'Kind' is missing in "
         "'{\"apiVersion\":\"velero.io/v1\",\"metadata\":{\"name\":\"b\"}}'"},
        {"{\"kind\": \"Backup\", \"metadata\": {\"name\": \"b\"}}",
         "Object 'apiVersion' is missing in '{\"kind\":\"Backup\",\"metadata\":{\"name\":\"b\"}}'"},
        {"{\"apiVersion\": \"velero.io/v2\", \"kind\": \"Backup\", \"metadata\": {\"name\": "
         "\"b\"}}",
         "the API version in the data (velero.io/v2) does not match the expected API version "
         "(velero.io/v1)"},
        {"{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Restore\", \"metadata\": {\"name\": "
         "\"b\"}}",
         "the kind in the data (Restore) does not match the expected kind (Backup)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_Parse(cases[i].text);
        char msg[2048];
        assert_int_equal(check(&c->backup, o, msg, sizeof msg, NULL), 400);
        assert_string_equal(msg, cases[i].message);
        cJSON_Delete(o);
    }
}

/* Keywords Velero's CRDs do not use yet, through added properties. */
static void added_properties_and_other_keywords(void **state)
{
    (void)state;
    /* A CRD of its own: the shared one stays as Velero v1.18.1 has it. */
    struct crds local, *c = &local;
    char err[256];
    assert_int_equal(
        sim_crd_load(&c->restore, (const char *)sim_crd_restores_json, err, sizeof err), 0);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "existingVolumeDataPolicy",
                                          "{\"type\": \"string\", \"nullable\": true}", err,
                                          sizeof err),
                     0);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "existingVolumeDataPolicy",
                                          "{\"type\": \"string\"}", err, sizeof err),
                     -1);
    assert_int_equal(sim_crd_add_property(&c->restore, "nope", "x", "{}", err, sizeof err), -1);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "simDuration",
                                          "{\"type\": \"string\", \"format\": \"duration\"}", err,
                                          sizeof err),
                     0);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "simShort",
                                          "{\"type\": \"string\", \"maxLength\": 3, "
                                          "\"minLength\": 1}",
                                          err, sizeof err),
                     0);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "simCount",
                                          "{\"type\": \"integer\", \"minimum\": 1, "
                                          "\"maximum\": 9}",
                                          err, sizeof err),
                     0);
    assert_int_equal(sim_crd_add_property(&c->restore, "spec", "simIntOrString",
                                          "{\"x-kubernetes-int-or-string\": true}", err,
                                          sizeof err),
                     0);
    static const struct {
        const char *spec;
        int code;
        const char *message;
    } cases[] = {
        {"\"existingVolumeDataPolicy\": \"incremental\"", 0, ""},
        {"\"simDuration\": \"72h0m0s\", \"simShort\": \"abc\", \"simCount\": 9, "
         "\"simIntOrString\": 5",
         0, ""},
        {"\"simDuration\": \"1.5h\", \"simIntOrString\": \"50%\"", 0, ""},
        {"\"simDuration\": \"3 days\"", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simDuration: Invalid value: \"3 days\": "
         "spec.simDuration in body must be of type duration: \"3 days\""},
        {"\"simShort\": \"abcd\"", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simShort: Too long: may not be longer than 3"},
        {"\"simShort\": \"\"", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simShort: Invalid value: \"\": spec.simShort "
         "in "
         "body should be at least 1 chars long"},
        {"\"simCount\": 0", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simCount: Invalid value: 0: spec.simCount in "
         "body should be greater than or equal to 1"},
        {"\"simCount\": 10", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simCount: Invalid value: 10: spec.simCount in "
         "body should be less than or equal to 9"},
        {"\"simIntOrString\": 1.5", 422,
         "Restore.velero.io \"b1\" is invalid: spec.simIntOrString: Invalid value: \"number\": "
         "spec.simIntOrString in body must be of type int-or-string: \"number\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = body("Restore", cases[i].spec, "");
        char msg[2048];
        int code = check(&c->restore, o, msg, sizeof msg, NULL);
        if (code != cases[i].code || strcmp(msg, cases[i].message) != 0)
            fail_msg("%s: %d '%s'\n  want %d '%s'", cases[i].spec, code, msg, cases[i].code,
                     cases[i].message);
        cJSON_Delete(o);
    }
    sim_crd_free(&c->restore);
}

static void subdomain_names(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
    } cases[] = {
        {"a", 0},     {"a.b-c.d", 0}, {"0abc", 0}, {"", -1},     {"a.", -1}, {".a", -1},
        {"a..b", -1}, {"-a", -1},     {"a-", -1},  {"a-.b", -1}, {"A", -1},  {"a_b", -1},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (sim_dns_subdomain_check(cases[i].s, err, sizeof err) != cases[i].rc)
            fail_msg("'%s': want %d", cases[i].s, cases[i].rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crds_load_with_their_names),
        cmocka_unit_test(migrator_objects_are_valid),
        cmocka_unit_test(every_property_type_is_checked),
        cmocka_unit_test(invalid_status_has_causes),
        cmocka_unit_test(unknown_fields_are_bad_requests),
        cmocka_unit_test(preserved_fields_take_anything),
        cmocka_unit_test(nulls_are_pruned_unless_nullable),
        cmocka_unit_test(metadata_is_object_meta),
        cmocka_unit_test(kind_and_api_version_must_match),
        cmocka_unit_test(added_properties_and_other_keywords),
        cmocka_unit_test(subdomain_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
