/*
 * test_importer — core/importer's phase machine over a fake cluster
 * (struct importer_ops) and an injected clock: the backup that never
 * syncs (failed by the budget), the backup that failed at the source, a
 * restore that fails and is tried again only after its namespace is
 * really gone, Velero's restart failure tried again under a new name,
 * tries running out, a namespace that exists already (refused, never
 * touched) unless it is what this site kept of its own migration of the
 * workload to the caller (a failback: the kept copy makes way),
 * PartiallyFailed accepted only when the workload becomes
 * ready, prestage and incremental imports, drops at each phase, an API
 * server that does not answer, and the agent killed at every call it
 * makes to the cluster (before and after the call takes effect): each run
 * resumes from the store to the same end, with no Restore created twice
 * and no namespace deleted that the import did not make.
 *
 * The fake cluster lives in shared memory so that a forked child can
 * die (_exit, as SIGKILL would leave it: the store as committed, the
 * cluster as changed) and the parent carry on with both.
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/importer.h"
#include "lib/log.h"
#include "lib/util.h"
#include "migrator/mig_phase.h"
#include "store/store_hold.h"
#include "store/store_import.h"
#include "store/store_mig.h"
#include "store/store_resv.h"

/* 2026-01-01T00:00:00Z */
#define T0 1767225600000LL
#define SITE "lulea-1"
#define PEER "falkenberg-1"
#define BACKUP "floe-falkenberg-1-shop-7-3"
#define NS "shop"
#define MAX_RESTORES 8

/* ---- the fake cluster ---- */

enum outcome { OUT_COMPLETED, OUT_PARTIAL, OUT_FAILED, OUT_RESTART, OUT_FOREVER };

struct fake_restore {
    char name[MIG_VELERO_NAME_MAX + 1];
    char backup[64];
    bool incremental;
    int polls;
    enum mig_vclass cls;
    char reason[200];
    bool ns_existed; /* the namespace existed when it was created */
};

struct fake {
    /* the Backup as this cluster shows it */
    bool backup_synced;
    enum mig_vclass backup_cls;
    char backup_reason[200];
    /* the namespace */
    bool ns_exists, ns_terminating, ns_foreign;
    int terminating_reads; /* reads until a terminating namespace is gone */
    size_t nobjs;
    struct mig_obj objs[4];
    bool never_ready;
    size_t restored_objs; /* objects a completed restore brings back; 0: both */
    /* Restores, and what the k-th one ends in */
    size_t nrestores;
    struct fake_restore restores[MAX_RESTORES];
    enum outcome outcome[MAX_RESTORES];
    int polls_to_end; /* GETs a Restore stays InProgress */
    bool api_down;
    /* what happened */
    int begins; /* rounds that had work */
    int creates, namespace_deletes, scales;
    bool deleted_foreign; /* a namespace the import did not make was deleted */
    bool restore_over_ns; /* a non-incremental Restore was created into an existing namespace */
    bool restore_while_dropped;
    /* crash injection: the crash_at-th call dies, before or after its effect */
    int calls, crash_at;
    bool crash_after;
};

static struct fake *fake_new(void)
{
    struct fake *f =
        mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(f != MAP_FAILED);
    memset(f, 0, sizeof *f);
    f->polls_to_end = 2;
    f->terminating_reads = 2;
    return f;
}

/* Counts a call; dies here when it is the one to die at. Returns after
 * the effect is to be applied by the caller when crash_after. */
static bool dies_before(struct fake *f)
{
    f->calls++;
    if (f->crash_at && f->calls == f->crash_at && !f->crash_after)
        _exit(9);
    return false;
}

static void dies_after(struct fake *f)
{
    if (f->crash_at && f->calls == f->crash_at && f->crash_after)
        _exit(9);
}

/* What a restore brings back: the objects as they were backed up (web
 * at 1, the StatefulSet db at 0), not ready until their pods come. */
static void restore_objects(struct fake *f, size_t n)
{
    static const struct {
        enum mig_obj_kind kind;
        const char *name;
        int32_t replicas;
    } backed_up[] = {{MIG_DEPLOYMENT, "web", 1}, {MIG_STATEFULSET, "db", 0}};
    f->ns_exists = true;
    f->nobjs = 0;
    for (size_t i = 0; i < n && i < 2; i++) {
        struct mig_obj *o = &f->objs[f->nobjs++];
        memset(o, 0, sizeof *o);
        o->kind = backed_up[i].kind;
        util_strlcpy(o->name, backed_up[i].name, sizeof o->name);
        o->replicas = backed_up[i].replicas;
        o->generation = 1;
    }
}

static int fk_begin(void *ctx, const struct floe_config *cfg, uint64_t generation, char *err,
                    size_t errlen)
{
    struct fake *f = ctx;
    f->begins++;
    (void)cfg;
    (void)generation;
    (void)err;
    (void)errlen;
    return 0;
}

static struct fake_restore *find_restore(struct fake *f, const char *name)
{
    for (size_t i = 0; i < f->nrestores; i++)
        if (strcmp(f->restores[i].name, name) == 0)
            return &f->restores[i];
    return NULL;
}

/* A GET moves a running Restore on; at its end it leaves what its
 * outcome says in the namespace. */
static void advance_restore(struct fake *f, struct fake_restore *r)
{
    if (r->cls != MIG_V_RUNNING || ++r->polls < f->polls_to_end)
        return;
    size_t k = (size_t)(r - f->restores);
    switch (f->outcome[k]) {
    case OUT_FOREVER:
        return;
    case OUT_COMPLETED:
        r->cls = MIG_V_COMPLETED;
        restore_objects(f, f->restored_objs ? f->restored_objs : 2);
        return;
    case OUT_PARTIAL:
        r->cls = MIG_V_PARTIAL;
        util_strlcpy(r->reason, "1 error: a ConfigMap could not be restored", sizeof r->reason);
        restore_objects(f, 2);
        return;
    case OUT_FAILED:
        r->cls = MIG_V_FAILED;
        util_strlcpy(r->reason, "error restoring pvc shop/data", sizeof r->reason);
        restore_objects(f, 1); /* half-restored */
        return;
    case OUT_RESTART:
        r->cls = MIG_V_FAILED;
        util_strlcpy(r->reason, MIG_VELERO_RESTART_RESTORE, sizeof r->reason);
        restore_objects(f, 1);
        return;
    }
}

static int fk_velero_get(void *ctx, enum mig_vkind kind, const char *name, struct mig_vstatus *out,
                         char *err, size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    memset(out, 0, sizeof *out);
    if (f->api_down)
        return errf(err, errlen, "GET %s: connection refused", name);
    if (kind == MIG_BACKUP) {
        /* Every backup of the peer's shows the same here. */
        out->cls = f->backup_synced ? f->backup_cls : MIG_V_GONE;
        util_strlcpy(out->reason, f->backup_reason, sizeof out->reason);
        util_strlcpy(out->phase, mig_vclass_name(out->cls), sizeof out->phase);
    } else {
        struct fake_restore *r = find_restore(f, name);
        if (r) {
            advance_restore(f, r);
            out->cls = r->cls;
            util_strlcpy(out->reason, r->reason, sizeof out->reason);
            util_strlcpy(out->phase, r->cls == MIG_V_RUNNING ? "InProgress" : "",
                         sizeof out->phase);
            out->started_ms = T0;
            out->completed_ms = r->cls == MIG_V_RUNNING ? 0 : T0 + 42000;
        } else {
            out->cls = MIG_V_GONE;
        }
    }
    dies_after(f);
    return 0;
}

static int fk_create_restore(void *ctx, const struct mig_restore_spec *spec, char *err,
                             size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    if (f->api_down)
        return errf(err, errlen, "POST restores: connection refused");
    /* 409 AlreadyExists counts as created. */
    if (!find_restore(f, spec->name)) {
        assert_true(f->nrestores < MAX_RESTORES);
        struct fake_restore *r = &f->restores[f->nrestores++];
        memset(r, 0, sizeof *r);
        util_strlcpy(r->name, spec->name, sizeof r->name);
        util_strlcpy(r->backup, spec->backup_name, sizeof r->backup);
        r->incremental = spec->incremental;
        r->cls = MIG_V_RUNNING;
        r->ns_existed = f->ns_exists;
        if (f->ns_exists && !spec->incremental)
            f->restore_over_ns = true;
        f->creates++;
    }
    dies_after(f);
    return 0;
}

static int fk_velero_bytes(void *ctx, enum mig_vkind kind, const char *name, double *bytes,
                           char *err, size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    (void)kind;
    (void)name;
    (void)err;
    (void)errlen;
    *bytes = 7.5e9;
    dies_after(f);
    return 0;
}

/* A read shows the namespace as it is, then the cluster moves on: a
 * terminating namespace goes after terminating_reads reads, pods come up
 * to the counts asked for (unless never_ready). */
static int fk_ns_read(void *ctx, const char *ns, struct mig_ns_state *out, char *err, size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    assert_string_equal(ns, NS);
    memset(out, 0, sizeof *out);
    if (f->api_down)
        return errf(err, errlen, "GET namespaces/%s: connection refused", ns);
    out->exists = f->ns_exists;
    out->terminating = f->ns_terminating;
    if (f->ns_exists) {
        out->nobjs = f->nobjs;
        memcpy(out->objs, f->objs, f->nobjs * sizeof f->objs[0]);
    }
    if (f->ns_terminating && --f->terminating_reads <= 0) {
        f->ns_exists = f->ns_terminating = false;
        f->nobjs = 0;
        f->terminating_reads = 2;
    }
    for (size_t i = 0; i < f->nobjs && !f->never_ready; i++) {
        struct mig_obj *o = &f->objs[i];
        o->observed_generation = o->generation;
        o->status_replicas = o->ready_replicas = o->updated_replicas = o->available_replicas =
            o->replicas;
    }
    dies_after(f);
    return 0;
}

static int fk_scale(void *ctx, const char *ns, enum mig_obj_kind kind, const char *name,
                    int32_t replicas, char *err, size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    assert_string_equal(ns, NS);
    if (f->api_down)
        return errf(err, errlen, "PATCH scale: connection refused");
    for (size_t i = 0; i < f->nobjs; i++)
        if (f->objs[i].kind == kind && strcmp(f->objs[i].name, name) == 0) {
            f->objs[i].replicas = replicas;
            f->objs[i].generation++;
            f->scales++;
            dies_after(f);
            return 0;
        }
    return errf(err, errlen, "PATCH %s/%s: 404", mig_obj_kind_key(kind), name);
}

static int fk_delete_namespace(void *ctx, const char *ns, char *err, size_t errlen)
{
    struct fake *f = ctx;
    dies_before(f);
    assert_string_equal(ns, NS);
    if (f->api_down)
        return errf(err, errlen, "DELETE namespaces/%s: connection refused", ns);
    if (f->ns_foreign)
        f->deleted_foreign = true;
    if (f->ns_exists) {
        f->ns_terminating = true;
        f->namespace_deletes++;
    }
    /* A Restore still running would make it again. */
    for (size_t i = 0; i < f->nrestores; i++)
        if (f->restores[i].cls == MIG_V_RUNNING)
            f->restore_while_dropped = true;
    dies_after(f);
    return 0;
}

static struct importer_ops fake_ops(struct fake *f)
{
    return (struct importer_ops){.begin = fk_begin,
                                 .velero_get = fk_velero_get,
                                 .create_restore = fk_create_restore,
                                 .velero_bytes = fk_velero_bytes,
                                 .ns_read = fk_ns_read,
                                 .scale = fk_scale,
                                 .delete_namespace = fk_delete_namespace,
                                 .ctx = f};
}

/* ---- the agent ---- */

struct fixture {
    char dir[64];
    char db[96];
    struct floe_config cfg;
    struct agent a;
    struct fake *fake;
    struct importer *im;
    char rid[STORE_RESV_ID_SIZE];
    int64_t id;
    int64_t now;
};

static void open_agent(struct fixture *f)
{
    char err[256] = "";
    if (store_open(&f->a.store, f->db, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    struct importer_ops ops = fake_ops(f->fake);
    f->im = importer_new(&f->a, &ops);
    assert_non_null(f->im);
}

static void close_agent(struct fixture *f)
{
    importer_stop(f->im);
    f->im = NULL;
    store_close(f->a.store);
    f->a.store = NULL;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    strcpy(f->dir, "/tmp/floe-test-importer.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/floe.db", f->dir);
    f->cfg.site.name = SITE;
    f->cfg.migrator.retries = 2;
    f->cfg.migrator.backup_sync_period_ms = 60000;
    f->cfg.migrator.import_ready_timeout_ms = 600000;
    agent_config_init(&f->a, config_ref(&f->cfg));
    f->fake = fake_new();
    f->now = T0;
    open_agent(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    close_agent(f);
    agent_config_clear(&f->a);
    munmap(f->fake, sizeof *f->fake);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A reservation and an import of BACKUP under it. */
static void ask(struct fixture *f, bool prestage, bool incremental, const char *backup)
{
    char err[256] = "", why[300] = "";
    if (!f->rid[0]) {
        struct store_resv_request rq = {
            .from_site = PEER, .workload = "shop", .granted_by = PEER, .kw = 40, .ttl_ms = 600000};
        struct store_resv rv;
        if (store_resv_grant(f->a.store, &rq, 1000, f->now, &rv, NULL, err, sizeof err) != 0)
            fail_msg("grant: %s", err);
        memcpy(f->rid, rv.id, sizeof f->rid);
        store_resv_clear(&rv);
    }
    struct store_import_request req = {.reservation = f->rid,
                                       .workload = "shop",
                                       .namespace_ = NS,
                                       .backup = backup,
                                       .prestage = prestage,
                                       .incremental = incremental,
                                       .replicas = "{\"deployment/web\":3,\"statefulset/db\":2}",
                                       .caller = PEER};
    struct store_import r;
    if (store_import_create(f->a.store, &req, f->now, &r, why, sizeof why, err, sizeof err) != 0)
        fail_msg("create: %s%s", why, err);
    f->id = r.id;
    store_import_clear(&r);
}

static struct store_import row(struct fixture *f)
{
    struct store_import r;
    char err[256];
    if (store_import_get(f->a.store, f->id, NULL, &r, err, sizeof err) != 0)
        fail_msg("import %lld: %s", (long long)f->id, err);
    return r;
}

static enum store_import_phase phase(struct fixture *f)
{
    struct store_import r = row(f);
    enum store_import_phase p = r.phase;
    store_import_clear(&r);
    return p;
}

/* Ticks a second at a time, n times or until the import has no more work. */
static void run(struct fixture *f, int n)
{
    for (int i = 0; i < n; i++) {
        importer_tick(f->im, f->now);
        struct store_import r = row(f);
        bool done =
            !store_import_phase_active(r.phase) && r.cleanup != STORE_IMPORT_CLEANUP_PENDING;
        store_import_clear(&r);
        if (done)
            return;
        f->now += 1000;
    }
}

static void assert_error(struct fixture *f, const char *want)
{
    struct store_import r = row(f);
    if (r.phase != STORE_IMPORT_FAILED)
        fail_msg("phase %s, want failed (%s)", store_import_phase_name(r.phase), want);
    if (!r.error || strcmp(r.error, want) != 0)
        fail_msg("error \"%s\", want \"%s\"", r.error ? r.error : "(null)", want);
    store_import_clear(&r);
}

static enum store_resv_state resv_state(struct fixture *f)
{
    struct store_resv rv;
    char err[256];
    assert_int_equal(store_resv_get(f->a.store, f->rid, &rv, err, sizeof err), 0);
    enum store_resv_state s = rv.state;
    store_resv_clear(&rv);
    return s;
}

/* Whether an event of the import says exactly detail. */
static bool has_event(struct fixture *f, const char *detail)
{
    struct store_import_event *ev;
    size_t n;
    char err[256];
    assert_int_equal(store_import_events(f->a.store, f->id, &ev, &n, err, sizeof err), 0);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(ev[i].detail, detail) == 0;
    if (!found)
        for (size_t i = 0; i < n; i++)
            print_message("  event %s: %s\n", ev[i].phase, ev[i].detail);
    store_import_events_free(ev, n);
    return found;
}

static void restore_name(struct fixture *f, int seq, char *out)
{
    assert_int_equal(mig_velero_name(out, MIG_VELERO_NAME_MAX + 1, SITE, NS, f->id, seq), 0);
}

static void assert_running_at_counts(struct fixture *f)
{
    assert_int_equal(f->fake->nobjs, 2);
    assert_string_equal(f->fake->objs[0].name, "web");
    assert_int_equal(f->fake->objs[0].replicas, 3);
    assert_string_equal(f->fake->objs[1].name, "db");
    assert_int_equal(f->fake->objs[1].replicas, 2);
}

/* ---- the paths ---- */

static void backup_synced_late_is_restored_scaled_and_ready(void **state)
{
    struct fixture *f = *state;
    ask(f, false, false, BACKUP);
    run(f, 20);
    assert_int_equal(phase(f), STORE_IMPORT_WAITING_BACKUP);
    assert_int_equal(f->fake->creates, 0);
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    run(f, 20);
    struct store_import r = row(f);
    assert_int_equal(r.phase, STORE_IMPORT_READY);
    char name[MIG_VELERO_NAME_MAX + 1];
    restore_name(f, 1, name);
    assert_string_equal(r.restore, name);
    assert_string_equal(f->fake->restores[0].name, name);
    assert_string_equal(f->fake->restores[0].backup, BACKUP);
    assert_false(f->fake->restores[0].incremental);
    assert_int_equal(f->fake->creates, 1);
    assert_int_equal(r.attempts, 1);
    assert_true(r.owns_namespace);
    assert_false(r.partial);
    /* Velero's own times: 42 s; the bytes its volume restores moved. */
    assert_true(r.restore_s == 42.0);
    assert_true(r.restored_bytes == 7.5e9);
    assert_true(r.ready_ms > 0);
    store_import_clear(&r);
    assert_running_at_counts(f);
    assert_int_equal(f->fake->namespace_deletes, 0);
    /* Ready keeps the reservation: the source releases it when done. */
    assert_int_equal(resv_state(f), STORE_RESV_ACTIVE);
    assert_true(has_event(f, "ready: 2 objects ready at their counts"));
}

static void backup_never_synced_fails_by_the_budget(void **state)
{
    struct fixture *f = *state;
    ask(f, false, false, BACKUP);
    /* 3 sync periods + 1 min = 240 s. */
    run(f, 239);
    assert_int_equal(phase(f), STORE_IMPORT_WAITING_BACKUP);
    run(f, 5);
    assert_error(f, "the backup " BACKUP " did not appear finished at " SITE " within 240 s "
                    "(Velero shows a peer's backup after its storage sync, every 60 s here)");
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
    assert_int_equal(f->fake->creates + f->fake->namespace_deletes, 0);
    struct store_import r = row(f);
    assert_int_equal(r.cleanup, STORE_IMPORT_CLEANUP_NONE);
    store_import_clear(&r);
}

static void backup_failed_at_the_source_fails_the_import(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_FAILED;
    util_strlcpy(f->fake->backup_reason, "pod volume backup failed: quiesce hook exited 1",
                 sizeof f->fake->backup_reason);
    ask(f, false, false, BACKUP);
    run(f, 5);
    assert_error(f, "the source's backup " BACKUP
                    " failed: pod volume backup failed: quiesce hook exited 1");
    assert_int_equal(f->fake->creates, 0);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
}

static void failed_restore_is_tried_again_once_its_namespace_is_gone(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = OUT_FAILED;
    f->fake->terminating_reads = 4;
    ask(f, false, false, BACKUP);
    run(f, 40);
    struct store_import r = row(f);
    assert_int_equal(r.phase, STORE_IMPORT_READY);
    assert_int_equal(r.attempts, 2);
    assert_int_equal(r.seq, 2);
    store_import_clear(&r);
    assert_int_equal(f->fake->creates, 2);
    assert_int_equal(f->fake->namespace_deletes, 1);
    /* The second Restore went into no namespace: the first's was gone. */
    assert_false(f->fake->restore_over_ns);
    assert_false(f->fake->restores[1].ns_existed);
    char one[MIG_VELERO_NAME_MAX + 1], two[MIG_VELERO_NAME_MAX + 1], want[400];
    restore_name(f, 1, one);
    restore_name(f, 2, two);
    assert_string_equal(f->fake->restores[1].name, two);
    snprintf(want, sizeof want,
             "the Restore %s failed: error restoring pvc shop/data; deleting the half-restored "
             "namespace shop before trying again",
             one);
    assert_true(has_event(f, want));
    snprintf(want, sizeof want, "namespace shop is gone; trying again as %s", two);
    assert_true(has_event(f, want));
    assert_running_at_counts(f);
}

static void velero_restart_is_tried_again_under_a_new_name(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = OUT_RESTART;
    ask(f, false, false, BACKUP);
    run(f, 40);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    char one[MIG_VELERO_NAME_MAX + 1], two[MIG_VELERO_NAME_MAX + 1], want[400];
    restore_name(f, 1, one);
    restore_name(f, 2, two);
    assert_true(strcmp(one, two) != 0);
    assert_string_equal(f->fake->restores[0].name, one);
    assert_string_equal(f->fake->restores[1].name, two);
    snprintf(want, sizeof want,
             "Velero restarted during the Restore %s, which it marked Failed; deleting the "
             "half-restored namespace shop before trying again",
             one);
    assert_true(has_event(f, want));
    assert_false(f->fake->restore_over_ns);
}

static void tries_run_out_fail_and_delete_what_was_made(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.retries = 1;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = OUT_FAILED;
    f->fake->outcome[1] = OUT_RESTART;
    ask(f, false, false, BACKUP);
    run(f, 60);
    char two[MIG_VELERO_NAME_MAX + 1], want[400];
    restore_name(f, 2, two);
    snprintf(want, sizeof want,
             "Velero restarted during the Restore %s, which it marked Failed (try 2 of 2)", two);
    assert_error(f, want);
    assert_int_equal(f->fake->creates, 2);
    assert_false(f->fake->ns_exists);
    struct store_import r = row(f);
    assert_int_equal(r.cleanup, STORE_IMPORT_CLEANUP_DONE);
    store_import_clear(&r);
    assert_true(has_event(f, "namespace shop deleted"));
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
}

static void existing_namespace_is_refused_and_never_touched(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->ns_exists = f->fake->ns_foreign = true;
    ask(f, false, false, BACKUP);
    run(f, 5);
    assert_error(f, "namespace shop already exists at " SITE);
    assert_int_equal(f->fake->creates + f->fake->scales, 0);
    assert_false(f->fake->deleted_foreign);
    assert_true(f->fake->ns_exists);
    /* Dropped afterwards: still not touched. */
    struct store_import out;
    char err[256];
    assert_int_equal(
        store_import_drop(f->a.store, f->id, PEER, PEER, f->now, &out, err, sizeof err), 0);
    store_import_clear(&out);
    run(f, 5);
    assert_false(f->fake->deleted_foreign);
    assert_int_equal(f->fake->namespace_deletes, 0);
}

/* A migration of NS from this site to `peer` that ended done at `ended`,
 * its source still kept here. */
static int64_t kept_migration(struct fixture *f, const char *peer, int64_t ended)
{
    char err[256];
    struct store_hold h = {.peer = (char *)peer,
                           .id = "r-out",
                           .workload = "shop",
                           .namespace_ = NS,
                           .kw = 40,
                           .created_ms = T0 - 7200000,
                           .expires_ms = T0 + 7200000};
    struct store_mig *m = calloc(1, sizeof *m);
    assert_non_null(m);
    mig_init(m, T0 - 7200000);
    util_strlcpy(m->workload, "shop", sizeof m->workload);
    util_strlcpy(m->namespace_, NS, sizeof m->namespace_);
    util_strlcpy(m->peer, peer, sizeof m->peer);
    util_strlcpy(m->reservation, "r-out", sizeof m->reservation);
    m->kw = 40;
    int64_t id = 0;
    if (store_mig_create(f->a.store, m, &h, NULL, &id, err, sizeof err) != 0)
        fail_msg("store_mig_create: %s", err);
    m->id = id;
    util_strlcpy(m->phase, "done", sizeof m->phase);
    util_strlcpy(m->result, "done", sizeof m->result);
    m->ended_ms = ended;
    m->released_ms = ended;
    m->retain_until_ms = ended + 86400000;
    if (store_mig_save(f->a.store, m, NULL, err, sizeof err) != 0)
        fail_msg("store_mig_save: %s", err);
    free(m);
    return id;
}

/* A failback: the workload this site moved to falkenberg-1 comes back
 * while the source is still kept here. The import takes the kept
 * namespace over, deletes it, waits until it is gone, restores, and the
 * migration that kept it finds the import that did so. */
static void the_source_kept_here_makes_way_for_the_workload_coming_back(void **state)
{
    struct fixture *f = *state;
    int64_t mig = kept_migration(f, PEER, T0 - 3600000);
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->ns_exists = true;
    ask(f, false, false, BACKUP);
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    assert_int_equal(f->fake->namespace_deletes, 1);
    assert_false(f->fake->restore_over_ns);
    assert_running_at_counts(f);
    char want[300];
    snprintf(want, sizeof want,
             "namespace shop is the source " SITE " kept of its migration %lld to " PEER
             ": shop comes back; deleting the kept copy to restore the one that comes",
             (long long)mig);
    assert_true(has_event(f, want));
    char err[256];
    int64_t id = 0;
    assert_int_equal(
        store_import_returned(f->a.store, NS, PEER, T0 - 3600000, &id, err, sizeof err), 0);
    assert_int_equal(id, f->id);
    /* Not for an import made before the migration ended, nor another peer's. */
    assert_int_equal(store_import_returned(f->a.store, NS, PEER, f->now + 1, &id, err, sizeof err),
                     STORE_NOT_FOUND);
    assert_int_equal(store_import_returned(f->a.store, NS, "oslo-2", 0, &id, err, sizeof err),
                     STORE_NOT_FOUND);
}

/* Kept for another peer: not this workload coming back; refused. */
static void a_source_kept_for_another_peer_is_refused_and_never_touched(void **state)
{
    struct fixture *f = *state;
    kept_migration(f, "oslo-2", T0 - 3600000);
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->ns_exists = f->fake->ns_foreign = true;
    ask(f, false, false, BACKUP);
    run(f, 5);
    assert_error(f, "namespace shop already exists at " SITE);
    assert_false(f->fake->deleted_foreign);
    char err[256];
    int64_t id = 0;
    assert_int_equal(store_import_returned(f->a.store, NS, PEER, 0, &id, err, sizeof err),
                     STORE_NOT_FOUND);
}

static void terminating_namespace_is_waited_for(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->ns_exists = f->fake->ns_terminating = true;
    f->fake->terminating_reads = 5;
    ask(f, false, false, BACKUP);
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    assert_false(f->fake->restore_over_ns);
}

static void partially_failed_and_ready_is_accepted(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = OUT_PARTIAL;
    ask(f, false, false, BACKUP);
    run(f, 30);
    struct store_import r = row(f);
    assert_int_equal(r.phase, STORE_IMPORT_READY);
    assert_true(r.partial);
    store_import_clear(&r);
    assert_true(has_event(f, "ready: 2 objects ready at their counts (accepted although Velero "
                             "said PartiallyFailed: the workload is ready)"));
    assert_running_at_counts(f);
}

static void partially_failed_and_never_ready_fails_and_is_deleted(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = OUT_PARTIAL;
    f->fake->never_ready = true;
    ask(f, false, false, BACKUP);
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_STARTING);
    run(f, 600);
    assert_error(f, "Velero said PartiallyFailed and the workload did not become ready at " SITE
                    " within 600 s (deployment/web 0 of 3 ready)");
    assert_false(f->fake->ns_exists);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
}

static void a_workload_that_never_gets_ready_fails_by_the_budget(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.import_ready_timeout_ms = 30000;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->never_ready = true;
    ask(f, false, false, BACKUP);
    run(f, 60);
    assert_error(f, "the workload did not become ready at " SITE
                    " within 30 s (deployment/web 0 of 3 ready)");
}

static void an_object_named_but_not_restored_fails_at_once(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->restored_objs = 1;
    ask(f, false, false, BACKUP);
    run(f, 10);
    assert_error(f, "statefulset/db is named in replicas but the restore did not bring it back");
    assert_false(f->fake->ns_exists);
}

static void prestage_stays_stopped_and_incremental_restores_into_it(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    ask(f, true, false, BACKUP);
    run(f, 30);
    struct store_import r = row(f);
    assert_int_equal(r.phase, STORE_IMPORT_READY);
    assert_true(r.owns_namespace);
    store_import_clear(&r);
    assert_true(has_event(f, "prestaged: 2 objects at 0 replicas"));
    assert_int_equal(f->fake->objs[0].replicas, 0);
    assert_int_equal(f->fake->objs[1].replicas, 0);
    int64_t pre = f->id;

    /* The final backup restores into it, incrementally; its first try
     * fails and is tried again in place, the namespace kept. */
    f->fake->outcome[1] = OUT_FAILED;
    ask(f, false, true, "floe-falkenberg-1-shop-7-9");
    assert_true(f->id != pre);
    run(f, 40);
    r = row(f);
    assert_int_equal(r.phase, STORE_IMPORT_READY);
    assert_int_equal(r.attempts, 2);
    store_import_clear(&r);
    assert_true(f->fake->restores[1].incremental && f->fake->restores[2].incremental);
    assert_true(f->fake->restores[1].ns_existed);
    assert_int_equal(f->fake->namespace_deletes, 0);
    assert_false(f->fake->restore_over_ns);
    assert_running_at_counts(f);
}

static void incremental_needs_a_namespace_its_prestage_made(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    ask(f, false, true, BACKUP);
    run(f, 3);
    char want[300];
    snprintf(want, sizeof want,
             "namespace shop was not prestaged at " SITE " (an incremental import restores into "
             "the namespace a prestage import of reservation %s left)",
             f->rid);
    assert_error(f, want);
}

static void incremental_into_a_foreign_namespace_is_refused(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->ns_exists = f->fake->ns_foreign = true;
    ask(f, false, true, BACKUP);
    run(f, 3);
    char want[300];
    snprintf(want, sizeof want,
             "namespace shop at " SITE " was not made by a prestage import of reservation %s: not "
             "restoring into it",
             f->rid);
    assert_error(f, want);
    struct store_import out;
    char err[256];
    assert_int_equal(
        store_import_drop(f->a.store, f->id, NULL, "root", f->now, &out, err, sizeof err), 0);
    store_import_clear(&out);
    run(f, 5);
    assert_false(f->fake->deleted_foreign);
    assert_int_equal(f->fake->creates, 0);
}

static void drop(struct fixture *f, int64_t id)
{
    struct store_import out;
    char err[256];
    if (store_import_drop(f->a.store, id, PEER, PEER, f->now, &out, err, sizeof err) != 0)
        fail_msg("drop %lld: %s", (long long)id, err);
    store_import_clear(&out);
}

/* prestage ready, then the incremental import of the final backup asked
 * for; returns the prestage import's id. */
static int64_t prestaged_then_incremental(struct fixture *f)
{
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    ask(f, true, false, BACKUP);
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    int64_t pre = f->id;
    ask(f, false, true, "floe-falkenberg-1-shop-7-9");
    return pre;
}

static void the_incremental_import_takes_the_namespace_over_from_its_prestage(void **state)
{
    struct fixture *f = *state;
    int64_t pre = prestaged_then_incremental(f);
    int64_t inc = f->id;
    run(f, 40);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    /* Dropping the prestage import now (the source never does; a peer
     * or an admin may) must not delete what runs, nor free its
     * reservation. */
    f->id = pre;
    struct store_import r = row(f);
    assert_false(r.owns_namespace);
    store_import_clear(&r);
    drop(f, pre);
    run(f, 10);
    r = row(f);
    assert_int_equal(r.cleanup, STORE_IMPORT_CLEANUP_NONE);
    store_import_clear(&r);
    assert_true(f->fake->ns_exists);
    assert_int_equal(f->fake->namespace_deletes, 0);
    assert_running_at_counts(f);
    assert_int_equal(resv_state(f), STORE_RESV_ACTIVE);
    /* The last import of the reservation takes both with it. */
    f->id = inc;
    drop(f, inc);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
    run(f, 30);
    assert_false(f->fake->ns_exists);
    assert_int_equal(f->fake->namespace_deletes, 1);
}

static void dropping_the_final_then_the_prestage_import_deletes_the_namespace_once(void **state)
{
    struct fixture *f = *state;
    f->fake->polls_to_end = 6;
    int64_t pre = prestaged_then_incremental(f);
    int64_t inc = f->id;
    run(f, 3);
    assert_int_equal(phase(f), STORE_IMPORT_RESTORING);
    /* A source rolling back drops the final import first: the prestage
     * import still holds the reservation. */
    drop(f, inc);
    assert_int_equal(resv_state(f), STORE_RESV_ACTIVE);
    run(f, 30);
    assert_false(f->fake->ns_exists);
    assert_int_equal(f->fake->namespace_deletes, 1);
    assert_false(f->fake->restore_while_dropped);
    drop(f, pre);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
    f->id = pre;
    run(f, 10);
    assert_int_equal(f->fake->namespace_deletes, 1);
}

static void
a_final_import_dropped_before_restoring_leaves_the_namespace_to_its_prestage(void **state)
{
    struct fixture *f = *state;
    int64_t pre = prestaged_then_incremental(f);
    int64_t inc = f->id;
    drop(f, inc);
    run(f, 5);
    assert_true(f->fake->ns_exists);
    drop(f, pre);
    f->id = pre;
    run(f, 30);
    assert_false(f->fake->ns_exists);
    assert_int_equal(f->fake->namespace_deletes, 1);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
}

static void a_failed_incremental_import_leaves_the_reservation_to_its_prestage(void **state)
{
    struct fixture *f = *state;
    int64_t pre = prestaged_then_incremental(f);
    f->fake->outcome[1] = f->fake->outcome[2] = f->fake->outcome[3] = OUT_FAILED;
    run(f, 60);
    assert_int_equal(phase(f), STORE_IMPORT_FAILED);
    /* Its own namespace (taken over) is deleted; the reservation stays
     * with the prestage import until that one is dropped. */
    assert_false(f->fake->ns_exists);
    assert_int_equal(resv_state(f), STORE_RESV_ACTIVE);
    drop(f, pre);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
}

static void drop_while_restoring_waits_for_the_restore_then_deletes(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->polls_to_end = 6;
    ask(f, false, false, BACKUP);
    run(f, 2);
    assert_int_equal(phase(f), STORE_IMPORT_RESTORING);
    assert_int_equal(f->fake->creates, 1);
    struct store_import out;
    char err[256];
    assert_int_equal(
        store_import_drop(f->a.store, f->id, PEER, PEER, f->now, &out, err, sizeof err), 0);
    store_import_clear(&out);
    assert_int_equal(resv_state(f), STORE_RESV_RELEASED);
    run(f, 30);
    assert_error(f, "dropped by " PEER);
    assert_false(f->fake->restore_while_dropped);
    assert_false(f->fake->ns_exists);
    assert_int_equal(f->fake->namespace_deletes, 1);
    assert_int_equal(f->fake->creates, 1);
    struct store_import r = row(f);
    assert_int_equal(r.cleanup, STORE_IMPORT_CLEANUP_DONE);
    store_import_clear(&r);
}

static void drop_after_ready_deletes_the_namespace(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    ask(f, false, false, BACKUP);
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
    struct store_import out;
    char err[256];
    assert_int_equal(
        store_import_drop(f->a.store, f->id, PEER, PEER, f->now, &out, err, sizeof err), 0);
    store_import_clear(&out);
    run(f, 30);
    assert_false(f->fake->ns_exists);
    struct store_import_counts c;
    assert_int_equal(store_import_counts(f->a.store, &c, err, sizeof err), 0);
    assert_int_equal(c.ready, 1);
    assert_int_equal(c.dropped, 1);
}

static void api_down_waits_without_writing_and_goes_on_when_back(void **state)
{
    struct fixture *f = *state;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->api_down = true;
    ask(f, false, false, BACKUP);
    struct store_import before = row(f);
    run(f, 60);
    struct store_import after = row(f);
    assert_int_equal(after.rev, before.rev);
    store_import_clear(&before);
    store_import_clear(&after);
    f->fake->api_down = false;
    run(f, 30);
    assert_int_equal(phase(f), STORE_IMPORT_READY);
}

/* ---- killed at every call ---- */

/* Runs the import in a child that dies at call k (before or after its
 * effect), then resumes it here from the store and the cluster as the
 * child left them. Returns false when the child finished without dying
 * (k is past the last call). */
static bool crash_and_resume(struct fixture *f, int k, bool after, enum outcome first)
{
    memset(f->fake, 0, sizeof *f->fake);
    f->fake->polls_to_end = 2;
    f->fake->terminating_reads = 2;
    f->fake->backup_synced = true;
    f->fake->backup_cls = MIG_V_COMPLETED;
    f->fake->outcome[0] = first;
    f->fake->crash_at = k;
    f->fake->crash_after = after;
    close_agent(f);
    unlink(f->db);
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", f->db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", f->db);
    unlink(wal);
    f->rid[0] = '\0';
    open_agent(f);
    ask(f, false, false, BACKUP);
    close_agent(f);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        open_agent(f);
        for (int i = 0; i < 60; i++) {
            importer_tick(f->im, f->now + i * 1000);
        }
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    bool died = WIFEXITED(status) && WEXITSTATUS(status) == 9;
    if (!died && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fail_msg("child ended with status %d", status);
    f->fake->crash_at = 0;
    f->now += 60000;
    open_agent(f);
    run(f, 60);
    struct store_import r = row(f);
    if (r.phase != STORE_IMPORT_READY)
        fail_msg("killed at call %d (%s): ended %s: %s", k, after ? "after" : "before",
                 store_import_phase_name(r.phase), r.error ? r.error : "");
    int want_restores = first == OUT_COMPLETED ? 1 : 2;
    if (f->fake->creates != want_restores || r.attempts != want_restores)
        fail_msg("killed at call %d (%s): %d Restores created, attempts %d, want %d", k,
                 after ? "after" : "before", f->fake->creates, r.attempts, want_restores);
    store_import_clear(&r);
    assert_false(f->fake->restore_over_ns);
    assert_false(f->fake->restore_while_dropped);
    assert_running_at_counts(f);
    assert_int_equal(resv_state(f), STORE_RESV_ACTIVE);
    return died;
}

static void killed_at_every_call_resumes_to_ready(void **state)
{
    struct fixture *f = *state;
    static const enum outcome firsts[] = {OUT_COMPLETED, OUT_FAILED, OUT_RESTART};
    for (size_t o = 0; o < sizeof firsts / sizeof firsts[0]; o++) {
        int runs = 0;
        for (int k = 1;; k++) {
            bool died_before = crash_and_resume(f, k, false, firsts[o]);
            bool died_after = crash_and_resume(f, k, true, firsts[o]);
            runs += died_before + died_after;
            if (!died_before && !died_after)
                break;
        }
        print_message("first Restore %d: killed and resumed at %d points\n", (int)firsts[o], runs);
        assert_true(runs > 10);
    }
}

/* The thread looks at an import that waits every migrator.tick, as the
 * source's migrator advances its side: with a 100 ms tick a finished
 * restore or a ready workload is noticed within 100 ms, not a second. */
static int rounds_in_a_second(struct fixture *f, int64_t tick_ms)
{
    importer_stop(f->im);
    f->cfg.migrator.tick_ms = tick_ms;
    struct importer_ops ops = fake_ops(f->fake);
    char err[256] = "";
    f->fake->begins = 0;
    f->im = importer_start(&f->a, &ops, err, sizeof err);
    if (!f->im)
        fail_msg("importer_start: %s", err);
    usleep(1000 * 1000);
    importer_stop(f->im); /* joins the thread: begins is final */
    f->im = NULL;
    return f->fake->begins;
}

static void the_thread_rounds_at_migrator_tick(void **state)
{
    struct fixture *f = *state;
    f->now = util_now_ms(); /* the thread's clock: the backup's wait has just begun */
    ask(f, false, false, BACKUP);
    int fast = rounds_in_a_second(f, 100);
    int slow = rounds_in_a_second(f, 1000);
    print_message("rounds in 1 s: %d at migrator.tick 100 ms, %d at 1 s\n", fast, slow);
    assert_true(fast >= 6);
    assert_true(slow <= 2);
    assert_int_equal(phase(f), STORE_IMPORT_WAITING_BACKUP);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    log_init(LOG_LVL_ERR);
    const struct CMUnitTest tests[] = {
        T(backup_synced_late_is_restored_scaled_and_ready),
        T(backup_never_synced_fails_by_the_budget),
        T(backup_failed_at_the_source_fails_the_import),
        T(failed_restore_is_tried_again_once_its_namespace_is_gone),
        T(velero_restart_is_tried_again_under_a_new_name),
        T(tries_run_out_fail_and_delete_what_was_made),
        T(existing_namespace_is_refused_and_never_touched),
        T(the_source_kept_here_makes_way_for_the_workload_coming_back),
        T(a_source_kept_for_another_peer_is_refused_and_never_touched),
        T(terminating_namespace_is_waited_for),
        T(partially_failed_and_ready_is_accepted),
        T(partially_failed_and_never_ready_fails_and_is_deleted),
        T(a_workload_that_never_gets_ready_fails_by_the_budget),
        T(an_object_named_but_not_restored_fails_at_once),
        T(prestage_stays_stopped_and_incremental_restores_into_it),
        T(incremental_needs_a_namespace_its_prestage_made),
        T(incremental_into_a_foreign_namespace_is_refused),
        T(the_incremental_import_takes_the_namespace_over_from_its_prestage),
        T(dropping_the_final_then_the_prestage_import_deletes_the_namespace_once),
        T(a_final_import_dropped_before_restoring_leaves_the_namespace_to_its_prestage),
        T(a_failed_incremental_import_leaves_the_reservation_to_its_prestage),
        T(drop_while_restoring_waits_for_the_restore_then_deletes),
        T(drop_after_ready_deletes_the_namespace),
        T(api_down_waits_without_writing_and_goes_on_when_back),
        T(killed_at_every_call_resumes_to_ready),
        T(the_thread_rounds_at_migrator_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
