/*
 * test_sim_velero — floe-sim's Velero (sim/sim_velero*.c) driven through
 * its API and simulated seconds: the phases Velero moves Backups and
 * Restores through, durations from the report's rates, which data
 * version a backup captures (pods running, scaled to 0, data mover),
 * hooks that quiesce, a restore that skips what exists, two sites
 * sharing a storage location through the sync (storageLocation
 * rewritten), the faults of /sim/set (restart with Velero's reason,
 * PartiallyFailed, Failed, a stopped sync) and names over 63 characters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sim/sim_cluster.h"
#include "sim/sim_cluster_edit.h"
#include "sim/sim_kube.h"
#include "sim/sim_sha256.h"
#include "sim/sim_velero.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EPOCH_MS 1767225600000LL /* 2026-01-01T00:00:00Z: simulated time 0 */
#define BACKUPS "/apis/velero.io/v1/namespaces/velero/backups"
#define RESTORES "/apis/velero.io/v1/namespaces/velero/restores"
#define JSON_CT "application/json"

/* shop: a database with a quiesce hook on its pods and a known write
 * rate; plain: stateful, no hooks; idle: stateful, scaled to 0; web:
 * stateless. 8.8 GB each: 10 minutes at the initial rate. */
static const char *const cluster_json =
    "{\"namespaces\": ["
    " {\"name\": \"shop\", \"labels\": {\"floe.dev/movable\": \"true\"},"
    "  \"annotations\": {\"floe.dev/data-gb\": \"8.8\", \"floe.dev/power-kw\": \"40\","
    "                   \"sim.floe.dev/write-gb-per-min\": \"0.25\"},"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 2, \"pod_annotations\": "
    "    {\"pre.hook.backup.velero.io/command\": \"[\\\"/bin/fsfreeze\\\"]\"}}],"
    "  \"deployments\": [{\"name\": \"api\", \"replicas\": 3, \"labels\": {\"tier\": \"front\"}}]},"
    " {\"name\": \"plain\", \"annotations\": {\"floe.dev/data-gb\": \"8.8\"},"
    "  \"deployments\": [{\"name\": \"app\", \"replicas\": 1}]},"
    " {\"name\": \"idle\", \"annotations\": {\"floe.dev/data-gb\": \"8.8\"},"
    "  \"statefulsets\": [{\"name\": \"db\", \"replicas\": 0}]},"
    " {\"name\": \"web\", \"annotations\": {\"floe.dev/stateless\": \"true\"},"
    "  \"deployments\": [{\"name\": \"front\", \"replicas\": 3}]}"
    "]}";

struct dirs {
    char root[64], a[96], b[96];
};

struct site {
    struct simc_cluster c;
    struct sim_velero *v;
    int64_t now_ms;
};

static int setup(void **state)
{
    struct dirs *d = calloc(1, sizeof *d);
    if (!d)
        return -1;
    snprintf(d->root, sizeof d->root, "/tmp/floe-simv-XXXXXX");
    if (!mkdtemp(d->root))
        return -1;
    snprintf(d->a, sizeof d->a, "%s/a", d->root);
    snprintf(d->b, sizeof d->b, "%s/b", d->root);
    if (mkdir(d->a, 0755) < 0 || mkdir(d->b, 0755) < 0)
        return -1;
    *state = d;
    return 0;
}

static void empty_dir(const char *dir)
{
    DIR *dd = opendir(dir);
    struct dirent *de;
    while (dd && (de = readdir(dd))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (dd)
        closedir(dd);
}

static int teardown(void **state)
{
    struct dirs *d = *state;
    empty_dir(d->a);
    empty_dir(d->b);
    rmdir(d->a);
    rmdir(d->b);
    rmdir(d->root);
    free(d);
    return 0;
}

/* Each test starts with empty storage. */
static int clean(void **state)
{
    struct dirs *d = *state;
    empty_dir(d->a);
    empty_dir(d->b);
    return 0;
}

/* A site with the cluster above and Velero configured by velero_fmt
 * (printf format taking the two directories a and b). */
static void site_open(struct site *s, const char *name, const struct dirs *d,
                      const char *velero_fmt)
{
    memset(s, 0, sizeof *s);
    simc_init(&s->c, name);
    s->c.epoch_ms = EPOCH_MS;
    char err[600], text[2048];
    cJSON *cl = cJSON_Parse(cluster_json);
    assert_non_null(cl);
    if (simc_parse_scenario(&s->c, cl, "cluster", err, sizeof err) < 0)
        fail_msg("%s", err);
    cJSON_Delete(cl);
    snprintf(text, sizeof text, velero_fmt, d->a, d->b);
    cJSON *vj = cJSON_Parse(text);
    if (!vj)
        fail_msg("velero config not JSON: %s", text);
    struct sim_velero_config cfg;
    if (sim_velero_parse_config(&cfg, vj, "velero", err, sizeof err) < 0)
        fail_msg("%s", err);
    cJSON_Delete(vj);
    if (sim_velero_new(&s->v, &cfg, err, sizeof err) < 0)
        fail_msg("%s", err);
}

/* Site A of the report's workflow: its own location a, and b, the
 * destination's ("backup storage at the destination"). */
static const char *const site_a =
    "{\"storage_location\": \"default\", \"locations\": {\"default\": \"%s\", "
    "\"falkenberg-minio\": \"%s\"}}";

static void site_close(struct site *s)
{
    sim_velero_free(s->v);
    simc_clear(&s->c);
}

/* seconds simulated seconds, as sim_site's clock runs them. */
static void run(struct site *s, int seconds)
{
    for (int i = 0; i < seconds; i++) {
        s->now_ms += 1000;
        simc_settle(&s->c, s->now_ms);
        simc_advance(&s->c, 1000);
        sim_velero_tick(s->v, &s->c, s->now_ms);
    }
}

/* Runs until simulated time t seconds. */
static void run_to(struct site *s, int t)
{
    run(s, t - (int)(s->now_ms / 1000));
}

static cJSON *call_sel(struct site *s, const char *method, const char *path, const char *body,
                       const char *ct, const char *selector, int want)
{
    struct sim_kube_request req = {.method = method,
                                   .path = path,
                                   .label_selector = selector,
                                   .content_type = ct,
                                   .body = body ? body : "",
                                   .body_len = body ? strlen(body) : 0,
                                   .now_ms = s->now_ms};
    char *out = NULL;
    int code = sim_velero_handle(s->v, &s->c, &req, &out);
    if (code != want)
        fail_msg("%s %s: %d, want %d: %s", method, path, code, want, out ? out : "(none)");
    assert_non_null(out);
    cJSON *o = cJSON_Parse(out);
    if (!o)
        fail_msg("%s %s: not JSON: %s", method, path, out);
    free(out);
    return o;
}

static cJSON *call(struct site *s, const char *method, const char *path, const char *body, int want)
{
    return call_sel(s, method, path, body, body ? JSON_CT : NULL, NULL, want);
}

/* The object at a dotted path; NULL when absent. */
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
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A label of the object (keys hold dots: not for at()). */
static const char *label(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(at(o, "metadata.labels"), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_at(const cJSON *o, const char *path)
{
    const cJSON *v = at(o, path);
    if (!cJSON_IsNumber(v))
        fail_msg("%s: not a number", path);
    return v->valuedouble;
}

/* POST a Backup of namespace ns with extra spec members. */
static void backup(struct site *s, const char *name, const char *ns, const char *spec_extra)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": "
             "{\"name\": \"%s\", \"namespace\": \"velero\", \"labels\": {\"floe.dev/migration\": "
             "\"7\"}}, \"spec\": {\"includedNamespaces\": [\"%s\"]%s%s}}",
             name, ns, spec_extra[0] ? ", " : "", spec_extra);
    cJSON_Delete(call(s, "POST", BACKUPS, body, 201));
}

static void restore(struct site *s, const char *name, const char *backup_name,
                    const char *spec_extra)
{
    char body[2048];
    snprintf(body, sizeof body,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Restore\", \"metadata\": "
             "{\"name\": \"%s\"}, \"spec\": {\"backupName\": \"%s\"%s%s}}",
             name, backup_name, spec_extra[0] ? ", " : "", spec_extra);
    cJSON_Delete(call(s, "POST", RESTORES, body, 201));
}

static cJSON *get(struct site *s, const char *collection, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", collection, name);
    return call(s, "GET", path, NULL, 200);
}

/* The phase of a Backup or Restore ("" before Velero took it up). */
static const char *phase(struct site *s, const char *collection, const char *name)
{
    static char buf[64];
    cJSON *o = get(s, collection, name);
    const char *p = str_at(o, "status.phase");
    snprintf(buf, sizeof buf, "%s", p ? p : "");
    cJSON_Delete(o);
    return buf;
}

/* The one pod volume object of a kind for an owner (label), as JSON. */
static cJSON *volume_of(struct site *s, const char *path, const char *label, const char *owner)
{
    char sel[300];
    snprintf(sel, sizeof sel, "%s=%s", label, owner);
    cJSON *l = call_sel(s, "GET", path, NULL, NULL, sel, 200);
    cJSON *items = cJSON_GetObjectItem(l, "items");
    if (cJSON_GetArraySize(items) != 1)
        fail_msg("%s for %s: %d items", path, owner, cJSON_GetArraySize(items));
    cJSON *one = cJSON_DetachItemFromArray(items, 0);
    cJSON_Delete(l);
    return one;
}

static int count_items(struct site *s, const char *path, const char *selector)
{
    cJSON *l = call_sel(s, "GET", path, NULL, NULL, selector, 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(l, "items"));
    cJSON_Delete(l);
    return n;
}

static bool file_exists(const char *dir, const char *name)
{
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s.json", dir, name);
    return stat(p, &sb) == 0;
}

/* /sim/set of one Velero name: check, then apply (as sim_api does). */
static int set(struct site *s, const char *name, const cJSON *value, char *err, size_t errlen)
{
    if (!sim_velero_set_name(name)) {
        snprintf(err, errlen, "not a Velero name");
        return -1;
    }
    if (sim_velero_set_check(name, value, err, errlen) < 0)
        return -1;
    sim_velero_set_apply(s->v, &s->c, s->now_ms, name, value);
    return 0;
}

static struct simc_namespace *ns_of(struct site *s, const char *name)
{
    struct simc_namespace *ns = simc_ns_find(&s->c, name);
    if (!ns)
        fail_msg("namespace %s missing", name);
    return ns;
}

/* ---- tests ---- */

static void backup_moves_through_velero_phases(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "b1", "web", "");
    cJSON *o = get(&s, BACKUPS, "b1");
    assert_null(at(o, "status")); /* not yet taken up */
    assert_string_equal(str_at(o, "metadata.namespace"), "velero");
    assert_string_equal(str_at(o, "kind"), "Backup");
    cJSON_Delete(o);
    run(&s, 1);
    o = get(&s, BACKUPS, "b1");
    assert_string_equal(str_at(o, "status.phase"), "InProgress");
    assert_string_equal(str_at(o, "status.startTimestamp"), "2026-01-01T00:00:01Z");
    assert_string_equal(str_at(o, "status.expiration"), "2026-01-31T00:00:01Z"); /* 720h */
    assert_int_equal((int)num_at(o, "status.version"), 1);
    assert_string_equal(str_at(o, "status.formatVersion"), "1.1.0");
    assert_string_equal(str_at(o, "spec.ttl"), "720h0m0s");
    assert_string_equal(str_at(o, "spec.storageLocation"), "default");
    assert_false(cJSON_IsTrue(at(o, "spec.defaultVolumesToFsBackup")));
    assert_string_equal(label(o, "velero.io/storage-location"), "default");
    /* 1 namespace + 1 Deployment + 3 pods */
    assert_int_equal((int)num_at(o, "status.progress.totalItems"), 5);
    assert_int_equal((int)num_at(o, "status.progress.itemsBackedUp"), 0);
    cJSON_Delete(o);
    /* Resources only: a few seconds, then Finalizing, then Completed. */
    run_to(&s, 5);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "InProgress");
    run_to(&s, 6);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Finalizing");
    assert_false(file_exists(((struct dirs *)*state)->a, "b1")); /* written when it ends */
    run_to(&s, 8);
    o = get(&s, BACKUPS, "b1");
    assert_string_equal(str_at(o, "status.phase"), "Completed");
    assert_string_equal(str_at(o, "status.completionTimestamp"), "2026-01-01T00:00:08Z");
    assert_int_equal((int)num_at(o, "status.progress.itemsBackedUp"), 5);
    assert_null(at(o, "status.errors")); /* omitempty */
    cJSON_Delete(o);
    assert_true(file_exists(((struct dirs *)*state)->a, "b1"));
    site_close(&s);
}

static void backups_run_one_at_a_time(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "b1", "web", "");
    backup(&s, "b2", "web", "");
    backup(&s, "b3", "web", "");
    run(&s, 1);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "InProgress");
    cJSON *o = get(&s, BACKUPS, "b3");
    assert_string_equal(str_at(o, "status.phase"), "Queued");
    assert_int_equal((int)num_at(o, "status.queuePosition"), 2);
    cJSON_Delete(o);
    run_to(&s, 7); /* b1 Finalizing still counts as running */
    assert_string_equal(phase(&s, BACKUPS, "b2"), "Queued");
    run_to(&s, 8);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    o = get(&s, BACKUPS, "b2");
    assert_string_equal(str_at(o, "status.phase"), "InProgress");
    assert_null(at(o, "status.queuePosition"));
    cJSON_Delete(o);
    o = get(&s, BACKUPS, "b3");
    assert_int_equal((int)num_at(o, "status.queuePosition"), 1);
    cJSON_Delete(o);
    site_close(&s);
}

/* 8.8 GB at 0.88 GB/min is 600 s; the next backup of the same location
 * moves only what was written since, at the kind's delta rate; a
 * restore moves the whole volume at 6.36 GB/min. */
static void durations_follow_the_report_rates(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "b1", "plain", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 300);
    cJSON *pvb = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                           "velero.io/backup-name", "b1");
    assert_string_equal(str_at(pvb, "status.phase"), "InProgress");
    /* The volume moves from t = 1 to 601: 299 of 600 s done. */
    assert_true(num_at(pvb, "status.progress.totalBytes") == 8.8e9);
    assert_true(num_at(pvb, "status.progress.bytesDone") == floor(8.8e9 * 299.0 / 600.0));
    cJSON_Delete(pvb);
    run_to(&s, 605);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "InProgress");
    run_to(&s, 606);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Finalizing");
    run_to(&s, 608);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    pvb = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                    "velero.io/backup-name", "b1");
    assert_string_equal(str_at(pvb, "status.phase"), "Completed");
    assert_true(num_at(pvb, "status.progress.bytesDone") == 8.8e9);
    cJSON_Delete(pvb);
    /* Delta: captured at t = 609 on base 1 (b1's capture at t = 1): 608 s
     * written at the default 0.05 GB/min = 0.5067 GB at 0.25 GB/min
     * (a database): 121.6 s. */
    backup(&s, "b2", "plain", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 609);
    pvb = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                    "velero.io/backup-name", "b2");
    assert_true(fabs(num_at(pvb, "status.progress.totalBytes") - 0.05 * 608 / 60 * 1e9) < 2);
    cJSON_Delete(pvb);
    run_to(&s, 735);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "InProgress");
    run_to(&s, 736);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "Finalizing");
    run_to(&s, 738);
    /* Restore of b2 after the namespace is gone: the whole 8.8 GB at
     * 6.36 GB/min = 83.02 s, plus the resources. */
    assert_int_equal(simc_ns_remove(&s.c, "plain"), 0);
    restore(&s, "r1", "b2", "");
    run_to(&s, 739);
    assert_string_equal(phase(&s, RESTORES, "r1"), "InProgress");
    cJSON *pvr = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumerestores",
                           "velero.io/restore-name", "r1");
    assert_true(num_at(pvr, "status.progress.totalBytes") == 8.8e9);
    cJSON_Delete(pvr);
    run_to(&s, 739 + 88);
    assert_string_equal(phase(&s, RESTORES, "r1"), "InProgress");
    run_to(&s, 739 + 89);
    assert_string_equal(phase(&s, RESTORES, "r1"), "Finalizing");
    run_to(&s, 739 + 91);
    assert_string_equal(phase(&s, RESTORES, "r1"), "Completed");
    site_close(&s);
}

/* The data kind sets the delta rate: one large file 0.13 GB/min. */
static void delta_rate_follows_data_kind(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    struct simc_namespace *ns = ns_of(&s, "plain");
    simc_map_set(&ns->meta.annotations, "sim.floe.dev/data-kind", "large-file");
    simc_map_set(&ns->meta.annotations, "sim.floe.dev/write-gb-per-min", "0.13");
    backup(&s, "b1", "plain", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 608);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    backup(&s, "b2", "plain", "\"defaultVolumesToFsBackup\": true");
    /* 608 s written at 0.13 GB/min, moved at 0.13 GB/min: 608 s + 5. */
    run_to(&s, 609 + 612);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "InProgress");
    run_to(&s, 609 + 613);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "Finalizing");
    site_close(&s);
}

/* The heart of SPEC 7: what a backup holds depends on the pods. */
static void capture_needs_running_pods_or_the_data_mover(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state,
              "{\"locations\": {\"default\": \"%s\", \"b\": \"%s\"}, \"data_mover\": true}");
    ns_of(&s, "plain")->data_version = 41;
    ns_of(&s, "idle")->data_version = 77;
    backup(&s, "running", "plain", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 700);
    backup(&s, "scaled-to-0", "idle", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 720);
    backup(&s, "mover", "idle", "\"defaultVolumesToFsBackup\": true, \"snapshotMoveData\": true");
    backup(&s, "no-fs", "plain", "");
    run_to(&s, 2000);
    cJSON *st = NULL;
    char *text = sim_velero_state_json(s.v, s.now_ms);
    st = cJSON_Parse(text);
    free(text);
    const cJSON *b;
    int seen = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(st, "backups"))
    {
        const char *name = str_at(b, "name");
        assert_string_equal(str_at(b, "phase"), "Completed");
        const cJSON *d = cJSON_GetObjectItem(
            cJSON_GetObjectItem(b, "namespaces"),
            strcmp(name, "running") == 0 || strcmp(name, "no-fs") == 0 ? "plain" : "idle");
        const cJSON *ver = cJSON_GetObjectItem(d, "version");
        if (strcmp(name, "running") == 0) {
            assert_int_equal((int)ver->valuedouble, 42); /* 41 + the first second */
            assert_string_equal(str_at(d, "mover"), "file-system");
        } else if (strcmp(name, "scaled-to-0") == 0) {
            /* velero #1919: Completed, and no volume data at all */
            assert_true(cJSON_IsNull(ver));
            assert_int_equal((int)num_at(d, "bytes"), 0);
            assert_string_equal(str_at(d, "why"), "no pod running");
        } else if (strcmp(name, "mover") == 0) {
            assert_int_equal((int)ver->valuedouble, 77);
            assert_string_equal(str_at(d, "mover"), "data-mover");
        } else {
            assert_true(cJSON_IsNull(ver));
        }
        seen++;
    }
    assert_int_equal(seen, 4);
    cJSON_Delete(st);
    assert_int_equal(count_items(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                                 "velero.io/backup-name=scaled-to-0"),
                     0);
    assert_int_equal(count_items(&s, "/apis/velero.io/v2alpha1/namespaces/velero/datauploads",
                                 "velero.io/backup-name=mover"),
                     1);
    assert_int_equal(count_items(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                                 "velero.io/backup-name=mover"),
                     0);
    site_close(&s);
    /* Without the data mover installed, snapshotMoveData does nothing. */
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "mover", "idle", "\"defaultVolumesToFsBackup\": true, \"snapshotMoveData\": true");
    run_to(&s, 10);
    text = sim_velero_state_json(s.v, s.now_ms);
    st = cJSON_Parse(text);
    free(text);
    assert_true(cJSON_IsNull(
        at(cJSON_GetArrayItem(cJSON_GetObjectItem(st, "backups"), 0), "namespaces.idle.version")));
    cJSON_Delete(st);
    site_close(&s);
}

static void pre_hooks_quiesce_post_hooks_release(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    struct simc_namespace *shop = ns_of(&s, "shop");
    /* The pods' annotation hook: 2 db pods; the api pods get the
     * Backup's hook (3 pods x 1 pre). */
    backup(&s, "b1", "shop",
           "\"defaultVolumesToFsBackup\": true, \"hooks\": {\"resources\": [{\"name\": \"q\","
           " \"includedNamespaces\": [\"shop\"], \"labelSelector\": {\"matchLabels\": {\"app\":"
           " \"api\"}}, \"pre\": [{\"exec\": {\"command\": [\"/bin/sync\"]}}]}]}");
    run(&s, 1);
    uint64_t at_capture = shop->data_version;
    assert_true(shop->quiesced);
    cJSON *o = get(&s, BACKUPS, "b1");
    assert_int_equal((int)num_at(o, "status.hookStatus.hooksAttempted"), 5);
    cJSON_Delete(o);
    run(&s, 100);
    assert_int_equal(shop->data_version, at_capture); /* no writes while quiesced */
    run_to(&s, 700);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    assert_true(shop->quiesced); /* nothing released it */
    /* A post hook releases the writes when the volume has been read. */
    backup(&s, "b2", "shop",
           "\"defaultVolumesToFsBackup\": true, \"hooks\": {\"resources\": [{\"name\": \"u\","
           " \"post\": [{\"exec\": {\"command\": [\"/bin/thaw\"]}}]}]}");
    run_to(&s, 800);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "Completed");
    assert_false(shop->quiesced);
    o = get(&s, BACKUPS, "b2");
    /* 2 annotation pre hooks (db), 3 post hooks (api pods) */
    assert_int_equal((int)num_at(o, "status.hookStatus.hooksAttempted"), 5);
    cJSON_Delete(o);
    site_close(&s);
}

/* A restore recreates the namespace as backed up and brings back the
 * captured version; a second one skips what exists and keeps the data. */
static void restore_recreates_and_skips_existing(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    ns_of(&s, "shop")->data_version = 1000;
    backup(&s, "b1", "shop", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 700);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    assert_int_equal(simc_ns_remove(&s.c, "shop"), 0);
    restore(&s, "r1", "b1", "");
    run(&s, 1);
    struct simc_namespace *shop = ns_of(&s, "shop");
    /* Objects first, the volume after: pods wait, no writes yet. */
    assert_int_equal(shop->data_version, 0);
    assert_true(shop->quiesced);
    assert_string_equal(simc_map_get(&shop->meta.labels, "floe.dev/movable"), "true");
    assert_string_equal(simc_map_get(&shop->meta.labels, "velero.io/restore-name"), "r1");
    assert_string_equal(simc_map_get(&shop->meta.annotations, "floe.dev/data-gb"), "8.8");
    const struct simc_workload *db = simc_workload_find(shop, SIMC_STATEFULSET, "db");
    const struct simc_workload *api = simc_workload_find(shop, SIMC_DEPLOYMENT, "api");
    assert_non_null(db);
    assert_non_null(api);
    assert_int_equal(db->replicas, 2);
    assert_int_equal(api->replicas, 3);
    assert_string_equal(simc_map_get(&api->meta.labels, "tier"), "front");
    assert_string_equal(simc_map_get(&db->pod_annotations, "pre.hook.backup.velero.io/command"),
                        "[\"/bin/fsfreeze\"]");
    run_to(&s, 800);
    assert_string_equal(phase(&s, RESTORES, "r1"), "Completed");
    shop = ns_of(&s, "shop");
    /* 1001: the version when writes stopped at b1's capture... and the
     * restored pods write on from there. */
    assert_false(shop->quiesced);
    assert_true(shop->data_version >= 1001 && shop->data_version < 1001 + 100);
    /* Again onto the existing namespace: skipped, data kept. */
    shop->data_version = 5;
    restore(&s, "r2", "b1", "");
    run_to(&s, 900);
    cJSON *o = get(&s, RESTORES, "r2");
    assert_string_equal(str_at(o, "status.phase"), "Completed");
    assert_int_equal((int)num_at(o, "status.warnings"), 2); /* db and api exist */
    cJSON_Delete(o);
    assert_true(ns_of(&s, "shop")->data_version < 1001);
    site_close(&s);
}

/* existingVolumeDataPolicy: not in Velero v1.18.1 (refused as unknown),
 * with incremental_restore only the delta moves onto the namespace. */
static void incremental_restore_moves_the_delta(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    cJSON *st = call(&s, "POST", RESTORES,
                     "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Restore\", \"metadata\": "
                     "{\"name\": \"r\"}, \"spec\": {\"backupName\": \"b\", "
                     "\"existingVolumeDataPolicy\": \"incremental\"}}",
                     400);
    assert_string_equal(str_at(st, "message"),
                        "Restore in version \"v1\" cannot be handled as a Restore: strict decoding "
                        "error: unknown field \"spec.existingVolumeDataPolicy\"");
    cJSON_Delete(st);
    site_close(&s);

    site_open(&s, "lulea-1", *state,
              "{\"locations\": {\"default\": \"%s\", \"b\": \"%s\"}, \"incremental_restore\": "
              "true}");
    struct simc_namespace *shop = ns_of(&s, "shop");
    shop->data_version = 6000;
    backup(&s, "b1", "shop", "\"defaultVolumesToFsBackup\": true");
    run_to(&s, 700);
    /* The target's copy is 600 versions behind: 600 s at 0.25 GB/min =
     * 2.5 GB at 6.36 GB/min = 23.6 s. */
    shop = ns_of(&s, "shop");
    shop->data_version = 6001 - 600;
    shop->quiesced = true;
    restore(&s, "r1", "b1", "\"existingVolumeDataPolicy\": \"incremental\"");
    run_to(&s, 701);
    cJSON *pvr = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumerestores",
                           "velero.io/restore-name", "r1");
    assert_true(fabs(num_at(pvr, "status.progress.totalBytes") - 2.5e9) < 2);
    cJSON_Delete(pvr);
    run_to(&s, 701 + 28);
    assert_string_equal(phase(&s, RESTORES, "r1"), "InProgress");
    run_to(&s, 701 + 29);
    assert_string_equal(phase(&s, RESTORES, "r1"), "Finalizing");
    assert_int_equal(ns_of(&s, "shop")->data_version, 6001);
    site_close(&s);
}

/* Two sites, one storage location: B sees A's backup only once it ended
 * and B's sync ran, under B's own location name; then restores it. */
static void sync_shows_backups_under_the_own_location(void **state)
{
    const struct dirs *d = *state;
    struct site a, b;
    site_open(&a, "lulea-1", *state, site_a);
    site_open(
        &b, "falkenberg-1", *state,
        "{\"locations\": {\"site-a\": \"%s\", \"default\": \"%s\"}, \"sync_period\": \"1m\"}");
    ns_of(&a, "plain")->data_version = 500;
    assert_int_equal(simc_ns_remove(&b.c, "plain"), 0);
    backup(&a, "move-1", "plain",
           "\"defaultVolumesToFsBackup\": true, \"storageLocation\": \"falkenberg-minio\"");
    for (int t = 1; t <= 606; t++) {
        run(&a, 1);
        run(&b, 1);
    }
    assert_string_equal(phase(&a, BACKUPS, "move-1"), "Finalizing");
    assert_false(file_exists(d->b, "move-1"));
    cJSON *st = call(&b, "GET", BACKUPS "/move-1", NULL, 404);
    assert_string_equal(str_at(st, "message"), "backups.velero.io \"move-1\" not found");
    cJSON_Delete(st);
    run(&a, 2);
    run(&b, 2);
    assert_true(file_exists(d->b, "move-1"));
    /* B's sync runs at 1, 61, ... 601 s; the next is at 661. A restore
     * before it cannot find the backup. */
    restore(&b, "early", "move-1", "");
    run(&b, 1);
    st = get(&b, RESTORES, "early");
    assert_string_equal(str_at(st, "status.phase"), "FailedValidation");
    assert_string_equal(cJSON_GetArrayItem(at(st, "status.validationErrors"), 0)->valuestring,
                        "Error retrieving backup: backups.velero.io \"move-1\" not found");
    cJSON_Delete(st);
    run_to(&b, 660);
    cJSON_Delete(call(&b, "GET", BACKUPS "/move-1", NULL, 404));
    run_to(&b, 661);
    st = get(&b, BACKUPS, "move-1");
    assert_string_equal(str_at(st, "spec.storageLocation"), "default");
    assert_string_equal(label(st, "velero.io/storage-location"), "default");
    assert_string_equal(label(st, "floe.dev/migration"), "7");
    assert_string_equal(str_at(st, "status.phase"), "Completed");
    assert_string_equal(str_at(st, "metadata.namespace"), "velero");
    cJSON_Delete(st);
    /* A's own object still names the location as A calls it. */
    st = get(&a, BACKUPS, "move-1");
    assert_string_equal(str_at(st, "spec.storageLocation"), "falkenberg-minio");
    cJSON_Delete(st);
    restore(&b, "r1", "move-1", "");
    run_to(&b, 800);
    assert_string_equal(phase(&b, RESTORES, "r1"), "Completed");
    assert_true(ns_of(&b, "plain")->data_version >= 501);
    /* Deleting the API object: the sync brings it back from storage. */
    cJSON_Delete(call(&b, "DELETE", BACKUPS "/move-1", NULL, 200));
    cJSON_Delete(call(&b, "GET", BACKUPS "/move-1", NULL, 404));
    run_to(&b, 841);
    assert_string_equal(phase(&b, BACKUPS, "move-1"), "Completed");
    /* Gone from storage: a Completed backup of the location goes too. */
    char path[512];
    snprintf(path, sizeof path, "%s/move-1.json", d->b);
    assert_int_equal(unlink(path), 0);
    run_to(&b, 901);
    cJSON_Delete(call(&b, "GET", BACKUPS "/move-1", NULL, 404));
    site_close(&a);
    site_close(&b);
}

static void stopped_sync_never_comes_until_resumed(void **state)
{
    struct site a, b;
    site_open(&a, "lulea-1", *state, site_a);
    site_open(
        &b, "falkenberg-1", *state,
        "{\"locations\": {\"site-a\": \"%s\", \"default\": \"%s\"}, \"sync_period\": \"30s\"}");
    char err[256];
    cJSON *f = cJSON_CreateFalse(), *t = cJSON_CreateTrue();
    assert_int_equal(set(&b, "velero.sync", f, err, sizeof err), 0);
    backup(&a, "m1", "web", "\"storageLocation\": \"falkenberg-minio\"");
    run_to(&a, 10);
    assert_string_equal(phase(&a, BACKUPS, "m1"), "Completed");
    run_to(&b, 300);
    cJSON_Delete(call(&b, "GET", BACKUPS "/m1", NULL, 404));
    assert_int_equal(set(&b, "velero.sync", t, err, sizeof err), 0);
    run(&b, 1);
    assert_string_equal(phase(&b, BACKUPS, "m1"), "Completed");
    cJSON_Delete(f);
    cJSON_Delete(t);
    site_close(&a);
    site_close(&b);
}

static void restart_fails_in_progress_with_velero_reason(void **state)
{
    const struct dirs *d = *state;
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "b1", "web", "");
    run_to(&s, 8);
    assert_string_equal(phase(&s, BACKUPS, "b1"), "Completed");
    backup(&s, "b2", "plain", "\"defaultVolumesToFsBackup\": true");
    assert_int_equal(simc_ns_remove(&s.c, "web"), 0);
    restore(&s, "r2", "b1", "");
    run(&s, 2);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "InProgress");
    assert_string_equal(phase(&s, RESTORES, "r2"), "InProgress");
    cJSON *yes = cJSON_CreateTrue();
    char err[256];
    assert_int_equal(sim_velero_set_check("velero.restart", yes, err, sizeof err), 0);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "InProgress"); /* a check changes nothing */
    assert_int_equal(set(&s, "velero.restart", yes, err, sizeof err), 0);
    cJSON_Delete(yes);
    cJSON *o = get(&s, BACKUPS, "b2");
    assert_string_equal(str_at(o, "status.phase"), "Failed");
    assert_string_equal(str_at(o, "status.failureReason"),
                        "found a backup with status \"InProgress\" during the server starting, "
                        "mark it as \"Failed\"");
    assert_string_equal(str_at(o, "status.completionTimestamp"), "2026-01-01T00:00:10Z");
    cJSON_Delete(o);
    o = get(&s, RESTORES, "r2");
    assert_string_equal(str_at(o, "status.phase"), "Failed");
    assert_string_equal(str_at(o, "status.failureReason"),
                        "found a restore with status \"InProgress\" during the server starting, "
                        "mark it as \"Failed\"");
    cJSON_Delete(o);
    cJSON *pvb = volume_of(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups",
                           "velero.io/backup-name", "b2");
    assert_string_equal(str_at(pvb, "status.phase"), "Failed");
    cJSON_Delete(pvb);
    /* Never uploaded: a target never sees it. */
    run(&s, 700);
    assert_string_equal(phase(&s, BACKUPS, "b2"), "Failed");
    assert_false(file_exists(d->a, "b2"));
    site_close(&s);
}

static void injected_outcomes(void **state)
{
    const struct dirs *d = *state;
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    char err[256];
    cJSON *partial = cJSON_CreateString("PartiallyFailed"), *failed = cJSON_CreateString("Failed"),
          *bad = cJSON_CreateString("Completed"), *null = cJSON_CreateNull();
    assert_int_equal(sim_velero_set_check("velero.next_backup", bad, err, sizeof err), -1);
    assert_string_equal(err,
                        "velero.next_backup: expected \"PartiallyFailed\", \"Failed\" or null");
    assert_int_equal(sim_velero_set_check("velero.restart", null, err, sizeof err), -1);
    assert_int_equal(sim_velero_set_check("velero.sync", bad, err, sizeof err), -1);
    assert_false(sim_velero_set_name("velero.nope")); /* an unknown value for /sim/set */
    assert_true(sim_velero_set_name("velero.next_restore"));
    assert_int_equal(set(&s, "velero.next_backup", partial, err, sizeof err), 0);
    backup(&s, "p1", "web", "");
    backup(&s, "p2", "web", "");
    run_to(&s, 6);
    assert_string_equal(phase(&s, BACKUPS, "p1"), "FinalizingPartiallyFailed");
    run_to(&s, 8);
    cJSON *o = get(&s, BACKUPS, "p1");
    assert_string_equal(str_at(o, "status.phase"), "PartiallyFailed");
    assert_int_equal((int)num_at(o, "status.errors"), 1);
    cJSON_Delete(o);
    run_to(&s, 20);
    assert_string_equal(phase(&s, BACKUPS, "p2"), "Completed"); /* once only */
    set(&s, "velero.next_backup", failed, err, sizeof err);
    backup(&s, "f1", "web", "");
    run_to(&s, 30);
    o = get(&s, BACKUPS, "f1");
    assert_string_equal(str_at(o, "status.phase"), "Failed");
    assert_non_null(str_at(o, "status.failureReason"));
    cJSON_Delete(o);
    assert_true(file_exists(d->a, "f1")); /* a Failed backup is uploaded too */
    /* Restores */
    set(&s, "velero.next_restore", failed, err, sizeof err);
    set(&s, "velero.next_restore", null, err, sizeof err);
    assert_int_equal(simc_ns_remove(&s.c, "web"), 0);
    restore(&s, "ok", "p2", "");
    run_to(&s, 40);
    assert_string_equal(phase(&s, RESTORES, "ok"), "Completed"); /* null cleared it */
    set(&s, "velero.next_restore", failed, err, sizeof err);
    restore(&s, "bad", "p2", "");
    run_to(&s, 50);
    o = get(&s, RESTORES, "bad");
    assert_string_equal(str_at(o, "status.phase"), "Failed");
    cJSON_Delete(o);
    /* A Failed backup cannot be restored. */
    restore(&s, "of-failed", "f1", "");
    run_to(&s, 60);
    assert_string_equal(phase(&s, RESTORES, "of-failed"), "FailedValidation");
    cJSON_Delete(partial);
    cJSON_Delete(failed);
    cJSON_Delete(bad);
    cJSON_Delete(null);
    site_close(&s);
}

static void validation_as_velero_does_it(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "nowhere", "web", "\"storageLocation\": \"nowhere\"");
    backup(&s, "missing-ns", "gone", "");
    run_to(&s, 20);
    cJSON *o = get(&s, BACKUPS, "nowhere");
    assert_string_equal(str_at(o, "status.phase"), "FailedValidation");
    assert_string_equal(
        cJSON_GetArrayItem(at(o, "status.validationErrors"), 0)->valuestring,
        "an existing backup storage location wasn't specified at backup creation time and the "
        "default 'nowhere' wasn't found. Please address this issue (see `velero backup-location "
        "-h` for options) and create a new backup. Error: backupstoragelocations.velero.io "
        "\"nowhere\" not found");
    cJSON_Delete(o);
    /* A listed namespace that does not exist: PartiallyFailed, 1 error
     * (Velero 1.14.1 and later). */
    o = get(&s, BACKUPS, "missing-ns");
    assert_string_equal(str_at(o, "status.phase"), "PartiallyFailed");
    assert_int_equal((int)num_at(o, "status.errors"), 1);
    cJSON_Delete(o);
    /* A duration Velero cannot read: it never takes the backup up. */
    backup(&s, "bad-ttl", "web", "\"ttl\": \"3 days\"");
    run(&s, 30);
    assert_string_equal(phase(&s, BACKUPS, "bad-ttl"), "");
    site_close(&s);
}

static void api_shapes_and_errors(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    backup(&s, "b1", "web", "");
    cJSON *o = call(&s, "POST", BACKUPS,
                    "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": "
                    "{\"name\": \"b1\"}, \"spec\": {}}",
                    409);
    assert_string_equal(str_at(o, "message"), "backups.velero.io \"b1\" already exists");
    assert_string_equal(str_at(o, "reason"), "AlreadyExists");
    assert_string_equal(str_at(o, "details.kind"), "backups");
    assert_string_equal(str_at(o, "details.group"), "velero.io");
    cJSON_Delete(o);
    o = call(&s, "POST", BACKUPS,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": "
             "{\"generateName\": \"floe-\"}, \"spec\": {\"ttl\": 1}}",
             422);
    assert_string_equal(str_at(o, "reason"), "Invalid");
    cJSON_Delete(o);
    o = call(&s, "POST", BACKUPS,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": "
             "{\"generateName\": \"floe-\"}, \"spec\": {}}",
             201);
    assert_int_equal(strlen(str_at(o, "metadata.name")), 10);
    assert_int_equal(strncmp(str_at(o, "metadata.name"), "floe-", 5), 0);
    assert_null(at(o, "metadata.generateName"));
    cJSON_Delete(o);
    cJSON_Delete(call_sel(&s, "POST", BACKUPS, "{}", "text/plain", NULL, 415));
    cJSON_Delete(call(&s, "POST", BACKUPS, "{not json", 400));
    o = call(&s, "POST", BACKUPS,
             "{\"apiVersion\": \"velero.io/v1\", \"kind\": \"Backup\", \"metadata\": "
             "{\"name\": \"x\", \"namespace\": \"other\"}, \"spec\": {}}",
             400);
    assert_string_equal(str_at(o, "message"), "the namespace of the provided object does not "
                                              "match the namespace sent on the request");
    cJSON_Delete(o);
    o = call(&s, "GET", BACKUPS "/nope", NULL, 404);
    assert_string_equal(str_at(o, "message"), "backups.velero.io \"nope\" not found");
    cJSON_Delete(o);
    /* Lists of custom resources: keys sorted, items keep kind. */
    o = call(&s, "GET", BACKUPS, NULL, 200);
    assert_string_equal(o->child->string, "apiVersion");
    assert_string_equal(str_at(o, "kind"), "BackupList");
    assert_non_null(str_at(o, "metadata.resourceVersion"));
    cJSON *item = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"), 0);
    assert_string_equal(str_at(item, "kind"), "Backup");
    assert_string_equal(str_at(item, "metadata.name"), "b1");
    cJSON_Delete(o);
    assert_int_equal(count_items(&s, BACKUPS, "floe.dev/migration=7"), 1);
    assert_int_equal(count_items(&s, BACKUPS, "floe.dev/migration=8"), 0);
    cJSON_Delete(call_sel(&s, "GET", BACKUPS, NULL, NULL, "a b", 400));
    /* Other namespaces: empty, read-only; unknown resources: 404. */
    assert_int_equal(count_items(&s, "/apis/velero.io/v1/namespaces/shop/backups", NULL), 0);
    o = call(&s, "DELETE", "/apis/velero.io/v1/namespaces/shop/backups/b1", NULL, 403);
    assert_string_equal(str_at(o, "reason"), "Forbidden");
    cJSON_Delete(o);
    assert_int_equal(count_items(&s, "/apis/velero.io/v1/backups", NULL), 2);
    cJSON_Delete(call(&s, "GET", "/apis/velero.io/v1/namespaces/velero/schedules", NULL, 404));
    cJSON_Delete(call(&s, "PUT", BACKUPS "/b1", "{}", 405));
    cJSON_Delete(
        call(&s, "DELETE", "/apis/velero.io/v1/namespaces/velero/podvolumebackups/x", NULL, 405));
    /* PATCH: merge patch only; a stale resourceVersion is a conflict. */
    o = call_sel(&s, "PATCH", BACKUPS "/b1", "{\"metadata\": {\"labels\": {\"a\": \"b\"}}}",
                 "application/strategic-merge-patch+json", NULL, 415);
    assert_string_equal(str_at(o, "reason"), "UnsupportedMediaType");
    cJSON_Delete(o);
    o = call_sel(&s, "PATCH", BACKUPS "/b1",
                 "{\"metadata\": {\"labels\": {\"a\": \"b\", \"floe.dev/migration\": null}}}",
                 "application/merge-patch+json", NULL, 200);
    assert_string_equal(label(o, "a"), "b");
    assert_null(label(o, "floe.dev/migration"));
    cJSON_Delete(o);
    o = call_sel(&s, "PATCH", BACKUPS "/b1", "{\"metadata\": {\"resourceVersion\": \"1\"}}",
                 "application/merge-patch+json", NULL, 409);
    assert_string_equal(str_at(o, "reason"), "Conflict");
    cJSON_Delete(o);
    cJSON_Delete(call_sel(&s, "PATCH", BACKUPS "/b1", "{\"spec\": {\"ttl\": 5}}",
                          "application/merge-patch+json", NULL, 422));
    /* DELETE answers the object as it was. */
    o = call(&s, "DELETE", BACKUPS "/b1", NULL, 200);
    assert_string_equal(str_at(o, "metadata.name"), "b1");
    cJSON_Delete(o);
    cJSON_Delete(call(&s, "GET", BACKUPS "/b1", NULL, 404));
    site_close(&s);
}

static int group_handle(void *arg, struct simc_cluster *c, const struct sim_kube_request *req,
                        char **body)
{
    return sim_velero_handle(arg, c, req, body);
}

/* Served as an API group of the simulated API server (as sim_site does):
 * its token guards Velero's objects too. */
static void velero_is_an_api_group(void **state)
{
    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    snprintf(s.c.token, sizeof s.c.token, "tok");
    const struct sim_kube_group groups[] = {{"/apis/velero.io/", group_handle, s.v}};
    struct sim_kube_request req = {
        .method = "GET", .path = BACKUPS, .groups = groups, .ngroups = 1};
    char *out = NULL;
    assert_int_equal(sim_kube_handle(&s.c, &req, &out), 401);
    free(out);
    req.authorization = "Bearer tok";
    assert_int_equal(sim_kube_handle(&s.c, &req, &out), 200);
    cJSON *o = cJSON_Parse(out);
    assert_string_equal(str_at(o, "kind"), "BackupList");
    cJSON_Delete(o);
    free(out);
    site_close(&s);
}

/* Kubernetes takes names up to 253; Velero labels its pod volume objects
 * with the name cut to 57 characters and 6 hex digits of its SHA-256,
 * so a client looking them up by the full name finds nothing (and a
 * selector value over 63 characters is refused). */
static void names_over_63_are_shortened_in_labels(void **state)
{
    uint8_t sum[32];
    sim_sha256("abc", 3, sum);
    assert_int_equal(sum[0], 0xba);
    assert_int_equal(sum[1], 0x78);
    assert_int_equal(sum[31], 0xad);
    sim_sha256("", 0, sum);
    assert_int_equal(sum[0], 0xe3);
    assert_int_equal(sum[31], 0x55);
    static const char long56[] =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56: two blocks */
    sim_sha256(long56, strlen(long56), sum);
    assert_int_equal(sum[0], 0x24);
    assert_int_equal(sum[31], 0xc1);

    struct site s;
    site_open(&s, "lulea-1", *state, site_a);
    const char *name = "floe-lulea-1-plain-with-a-name-longer-than-a-label-may-be-1-1234"; /* 64 */
    assert_int_equal(strlen(name), 64);
    char want[64];
    sim_velero_label_name(name, want);
    assert_int_equal(strlen(want), 63);
    assert_int_equal(strncmp(want, name, 57), 0);
    sim_sha256(name, strlen(name), sum);
    char hex[8];
    snprintf(hex, sizeof hex, "%02x%02x%02x", sum[0], sum[1], sum[2]);
    assert_string_equal(want + 57, hex);
    backup(&s, name, "plain", "\"defaultVolumesToFsBackup\": true");
    run(&s, 2);
    char sel[128];
    snprintf(sel, sizeof sel, "velero.io/backup-name=%s", want);
    assert_int_equal(count_items(&s, "/apis/velero.io/v1/namespaces/velero/podvolumebackups", sel),
                     1);
    snprintf(sel, sizeof sel, "velero.io/backup-name=%s", name);
    cJSON *o = call_sel(&s, "GET", "/apis/velero.io/v1/namespaces/velero/podvolumebackups", NULL,
                        NULL, sel, 400);
    cJSON_Delete(o);
    site_close(&s);
}

static void expired_backups_are_deleted_with_their_record(void **state)
{
    const struct dirs *d = *state;
    struct site s;
    site_open(&s, "lulea-1", *state,
              "{\"locations\": {\"default\": \"%s\", \"b\": \"%s\"}, \"sync_period\": \"10s\"}");
    backup(&s, "short", "web", "\"ttl\": \"30s\"");
    run_to(&s, 10);
    assert_string_equal(phase(&s, BACKUPS, "short"), "Completed");
    assert_true(file_exists(d->a, "short"));
    run_to(&s, 30); /* started at 1 s: expires at 31 s, a sync's time */
    assert_true(file_exists(d->a, "short"));
    assert_string_equal(phase(&s, BACKUPS, "short"), "Completed");
    run_to(&s, 31);
    cJSON_Delete(call(&s, "GET", BACKUPS "/short", NULL, 404));
    assert_false(file_exists(d->a, "short"));
    site_close(&s);
}

static void config_errors_name_the_key(void **state)
{
    const struct dirs *d = *state;
    static const struct {
        const char *fmt, *err;
    } cases[] = {
        {"{\"locations\": {\"default\": \"%s\"}, \"sync\": 1}", "velero.sync: unknown key"},
        {"{}", "velero.locations: missing"},
        {"{\"locations\": {\"default\": \"/nonexistent/floe\"}}",
         "velero.locations.default: /nonexistent/floe is not a directory"},
        {"{\"locations\": {\"b\": \"%s\"}}",
         "velero.storage_location: \"default\" is not one of the locations"},
        {"{\"locations\": {\"default\": \"%s\"}, \"sync_period\": \"soon\"}", "velero.sync_period"},
        {"{\"locations\": {\"Default\": \"%s\"}}", "velero.locations.Default: \"Default\" is not"},
        {"{\"locations\": {\"default\": \"%s\"}, \"data_mover\": 1}",
         "velero.data_mover: expected true or false"},
        {"{\"locations\": {\"default\": \"%s\"}, \"write_gb_per_min\": -1}",
         "velero.write_gb_per_min: expected a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], err[512];
        snprintf(text, sizeof text, cases[i].fmt, d->a);
        cJSON *v = cJSON_Parse(text);
        struct sim_velero_config cfg;
        if (sim_velero_parse_config(&cfg, v, "velero", err, sizeof err) == 0 ||
            !strstr(err, cases[i].err))
            fail_msg("%s: '%s', want '%s'", text, err, cases[i].err);
        cJSON_Delete(v);
    }
    char text[512], err[512];
    snprintf(text, sizeof text, "{\"locations\": {\"default\": \"%s\"}}", d->a);
    cJSON *v = cJSON_Parse(text);
    struct sim_velero_config cfg;
    assert_int_equal(sim_velero_parse_config(&cfg, v, "velero", err, sizeof err), 0);
    assert_string_equal(cfg.namespace_, "velero");
    assert_string_equal(cfg.storage_location, "default");
    assert_int_equal(cfg.sync_period_ms, 60000);
    assert_true(cfg.write_gb_per_min == 0.05);
    assert_false(cfg.data_mover);
    assert_false(cfg.incremental_restore);
    cJSON_Delete(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(backup_moves_through_velero_phases, clean),
        cmocka_unit_test_setup(backups_run_one_at_a_time, clean),
        cmocka_unit_test_setup(durations_follow_the_report_rates, clean),
        cmocka_unit_test_setup(delta_rate_follows_data_kind, clean),
        cmocka_unit_test_setup(capture_needs_running_pods_or_the_data_mover, clean),
        cmocka_unit_test_setup(pre_hooks_quiesce_post_hooks_release, clean),
        cmocka_unit_test_setup(restore_recreates_and_skips_existing, clean),
        cmocka_unit_test_setup(incremental_restore_moves_the_delta, clean),
        cmocka_unit_test_setup(sync_shows_backups_under_the_own_location, clean),
        cmocka_unit_test_setup(stopped_sync_never_comes_until_resumed, clean),
        cmocka_unit_test_setup(restart_fails_in_progress_with_velero_reason, clean),
        cmocka_unit_test_setup(injected_outcomes, clean),
        cmocka_unit_test_setup(validation_as_velero_does_it, clean),
        cmocka_unit_test_setup(api_shapes_and_errors, clean),
        cmocka_unit_test_setup(velero_is_an_api_group, clean),
        cmocka_unit_test_setup(names_over_63_are_shortened_in_labels, clean),
        cmocka_unit_test_setup(expired_backups_are_deleted_with_their_record, clean),
        cmocka_unit_test_setup(config_errors_name_the_key, clean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
