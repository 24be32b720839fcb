/*
 * test_migrator — the running migrator against a fake world (struct
 * migrator_ops): this site's cluster (namespaces whose running,
 * unquiesced pods advance a data version; Velero Backups that capture it
 * only while the pods run), the peer (reservations, imports that restore
 * a backup's version at the recorded replica counts) and the traffic
 * record. Each test drives migrator_tick by hand, with a new migrator
 * for every tick, so nothing in memory survives from one step to the
 * next: the store is all there is, as after a restart.
 *
 * The crash matrix kills the agent (a crash point) at every place in a
 * full run where it could die — after a step's state is saved and before
 * its action, after the action and before its outcome is saved — and
 * requires the same end: each workload running at exactly one site at
 * its original replica counts, no write lost (the target's data version
 * is the source's at the moment writes stopped), the traffic where the
 * workload runs, no reservation or hold left. It runs twice: with full
 * restores, and with migrator.incremental_restore, where the peer keeps
 * a prestage import stopped and restores the final backup into it (an
 * incremental import without a ready prestage one fails there, as a full
 * import into a prestaged namespace does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "core/inv_watch.h"
#include "core/migrator.h"
#include "core/placer.h"
#include "core/rebalancer.h"
#include "lib/fake_http.h"
#include "lib/util.h"
#include "migrator/mig_phase.h"
#include "store/store_hold.h"
#include "store/store_import.h"
#include "store/store_resv.h"
#include "store/store_mig.h"

#define T0 1767225600000LL
#define TICK_MS 30000LL
#define MAX_TICKS 600

/* ---- the fake world ---- */

#define NNS 2
#define NBACKUPS 32
#define NIMPORTS 8

struct fobj {
    enum mig_obj_kind kind;
    const char *name;
    int32_t replicas;
};

struct fns {
    const char *name;
    bool exists;
    struct fobj objs[2];
    size_t nobjs;
    int64_t version; /* advanced by running, unquiesced pods */
    bool quiesced;   /* a quiesce hook ran; until the pods stop */
};

struct fbackup {
    char name[64];
    int polls_left;
    enum mig_vclass cls;
    int64_t started_ms, completed_ms;
    int64_t captured; /* the data version it holds; -1: no volume data */
    bool fs, mover, quiesce;
    char ns[32];
    char reason[200];
};

struct fimport {
    char id[16];
    char backup[64];
    char ns[32];
    int polls_left;
    enum mig_import_phase phase;
    bool dropped;
    bool prestage, incremental;
    char home[32]; /* the home the request named; "" none */
    char error[80];
    struct mig_import_replica reps[4];
    size_t nreps;
};

struct world {
    struct store *store; /* to check that each intent is on disk before its action */
    int64_t now;
    struct fns ns[NNS];
    struct fbackup backups[NBACKUPS];
    size_t nbackups;
    struct fimport imports[NIMPORTS];
    size_t nimports;
    int64_t target_version[NNS]; /* what the target runs; -1 none */
    char reservations[4][16];
    bool released[4];
    size_t nresv;
    char record[NNS][64]; /* where each hostname points */
    /* faults */
    int fail_backups;         /* the next n backups end Failed */
    bool restart_next_backup; /* ... or marked Failed by a Velero restart */
    bool import_fails;        /* imports end failed */
    bool peer_down;
    /* crashes */
    int crash_at; /* the crash point (1..) where the agent dies; 0 never */
    int points;   /* crash points passed so far */
    bool crashed;
};

static struct fns *find_ns(struct world *w, const char *name)
{
    for (size_t i = 0; i < NNS; i++)
        if (strcmp(w->ns[i].name, name) == 0)
            return &w->ns[i];
    return NULL;
}

static int ns_index(struct world *w, const char *name)
{
    for (int i = 0; i < NNS; i++)
        if (strcmp(w->ns[i].name, name) == 0)
            return i;
    return -1;
}

static bool pods_run(const struct fns *n)
{
    for (size_t i = 0; i < n->nobjs; i++)
        if (n->objs[i].replicas > 0)
            return true;
    return false;
}

/* Writes happen between ticks wherever pods run and are not quiesced. */
static void world_advance(struct world *w)
{
    for (size_t i = 0; i < NNS; i++) {
        struct fns *n = &w->ns[i];
        if (!pods_run(n))
            n->quiesced = false; /* a frozen file system thaws with its pods */
        else if (n->exists && !n->quiesced)
            n->version++;
    }
}

/* The saved row of the migration of workload (the newest). */
static struct store_mig saved_row(struct world *w, const char *workload)
{
    struct store_mig *rows;
    size_t n;
    char err[256];
    if (store_mig_list(w->store, false, 0, &rows, &n, err, sizeof err) != 0)
        fail_msg("store_mig_list: %s", err);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].workload, workload) == 0) {
            struct store_mig m = rows[i];
            free(rows);
            return m;
        }
    fail_msg("no saved migration of %s", workload);
    exit(1);
}

static int f_begin(void *ctx, const struct floe_config *cfg, uint64_t generation, char *err,
                   size_t errlen)
{
    (void)ctx, (void)cfg, (void)generation, (void)err, (void)errlen;
    return 0;
}

static int f_ns_read(void *ctx, const char *name, struct mig_ns_state *out, char *err,
                     size_t errlen)
{
    struct world *w = ctx;
    memset(out, 0, sizeof *out);
    struct fns *n = find_ns(w, name);
    if (!n || !n->exists)
        return 0;
    out->exists = true;
    out->nobjs = n->nobjs;
    for (size_t i = 0; i < n->nobjs; i++) {
        struct mig_obj *o = &out->objs[i];
        o->kind = n->objs[i].kind;
        util_strlcpy(o->name, n->objs[i].name, sizeof o->name);
        o->replicas = o->status_replicas = o->ready_replicas = o->updated_replicas =
            o->available_replicas = n->objs[i].replicas;
        o->generation = o->observed_generation = 1;
    }
    (void)err, (void)errlen;
    return 0;
}

static int f_scale(void *ctx, const char *name, enum mig_obj_kind kind, const char *obj,
                   int32_t replicas, char *err, size_t errlen)
{
    struct world *w = ctx;
    struct fns *n = find_ns(w, name);
    /* The counts to come back to are on disk before anything goes to 0. */
    struct store_mig m = saved_row(w, name);
    if (replicas == 0)
        assert_true(m.scaled && m.replicas_recorded);
    else
        assert_string_equal(m.phase, "rolling-back");
    for (size_t i = 0; n && i < n->nobjs; i++)
        if (n->objs[i].kind == kind && strcmp(n->objs[i].name, obj) == 0) {
            n->objs[i].replicas = replicas;
            return 0;
        }
    return errf(err, errlen, "404 %s not found", obj);
}

static int f_delete_ns(void *ctx, const char *name, char *err, size_t errlen)
{
    struct world *w = ctx;
    struct fns *n = find_ns(w, name);
    (void)err, (void)errlen;
    if (n)
        n->exists = false;
    return 0;
}

static struct fbackup *find_backup(struct world *w, const char *name)
{
    for (size_t i = 0; i < w->nbackups; i++)
        if (strcmp(w->backups[i].name, name) == 0)
            return &w->backups[i];
    return NULL;
}

static int f_backup_create(void *ctx, const struct mig_backup_spec *b, char *err, size_t errlen)
{
    struct world *w = ctx;
    assert_true(strlen(b->name) <= MIG_VELERO_NAME_MAX);
    /* Its name is on disk before the POST (a restart finds it again). */
    assert_string_equal(saved_row(w, b->namespace_).backup, b->name);
    assert_string_equal(b->storage_location, "falkenberg-minio");
    assert_true(b->ttl_ms == 72 * 3600000LL);
    if (find_backup(w, b->name))
        return 0; /* 409 AlreadyExists counts as created */
    if (w->nbackups >= NBACKUPS)
        return errf(err, errlen, "too many backups");
    struct fbackup *x = &w->backups[w->nbackups++];
    memset(x, 0, sizeof *x);
    util_strlcpy(x->name, b->name, sizeof x->name);
    util_strlcpy(x->ns, b->namespace_, sizeof x->ns);
    x->cls = MIG_V_RUNNING;
    x->started_ms = w->now;
    x->fs = b->fs_backup;
    x->mover = b->snapshot_move_data;
    x->quiesce = b->nquiesce > 0;
    if (x->quiesce) {
        assert_string_equal(b->quiesce[0], "fsfreeze");
        struct fns *n = find_ns(w, b->namespace_);
        if (n && pods_run(n))
            n->quiesced = true; /* the pre hook stops the writes */
    }
    /* shop's initial backup is long (deltas follow), the rest quick */
    x->polls_left = w->nbackups == 1 && strstr(b->name, "shop") ? 6 : 2;
    if (w->fail_backups > 0) {
        w->fail_backups--;
        x->polls_left = 1;
        util_strlcpy(x->reason, "pod volume backup failed", sizeof x->reason);
        x->cls = MIG_V_FAILED; /* decided now, seen once its polls are spent */
    } else if (w->restart_next_backup) {
        w->restart_next_backup = false;
        x->polls_left = 1;
        util_strlcpy(x->reason, MIG_VELERO_RESTART_BACKUP, sizeof x->reason);
        x->cls = MIG_V_FAILED;
    }
    return 0;
}

static int f_backup_get(void *ctx, const char *name, struct mig_vstatus *out, char *err,
                        size_t errlen)
{
    struct world *w = ctx;
    memset(out, 0, sizeof *out);
    (void)err, (void)errlen;
    struct fbackup *x = find_backup(w, name);
    if (!x) {
        out->cls = MIG_V_GONE;
        return 0;
    }
    if (x->polls_left > 0 && --x->polls_left == 0) {
        x->completed_ms = w->now;
        if (x->cls == MIG_V_RUNNING) {
            x->cls = MIG_V_COMPLETED;
            struct fns *n = find_ns(w, x->ns);
            /* A file-system backup reads volumes through running pods. */
            x->captured = x->mover || (x->fs && pods_run(n)) ? n->version : -1;
        }
    }
    out->cls = x->polls_left > 0 ? MIG_V_RUNNING : x->cls;
    out->started_ms = x->started_ms;
    out->completed_ms = x->polls_left > 0 ? 0 : x->completed_ms;
    util_strlcpy(out->reason, x->reason, sizeof out->reason);
    return 0;
}

static int f_backup_bytes(void *ctx, const char *name, double *bytes, char *err, size_t errlen)
{
    (void)ctx, (void)name, (void)err, (void)errlen;
    *bytes = 1e9;
    return 0;
}

static int resv_index(struct world *w, const char *id)
{
    for (size_t i = 0; i < w->nresv; i++)
        if (strcmp(w->reservations[i], id) == 0)
            return (int)i;
    return -1;
}

static int f_import_start(void *ctx, const struct cfg_peer *peer,
                          const struct mig_import_request *r, struct mig_import_status *out,
                          long *http, char *err, size_t errlen)
{
    struct world *w = ctx;
    (void)peer;
    memset(out, 0, sizeof *out);
    /* The intent is on disk before the POST. */
    struct store_mig row = saved_row(w, r->workload);
    if (r->prestage) {
        assert_string_equal(row.prestage_state, "requested");
        assert_string_equal(row.prestage_backup, r->backup);
        assert_int_equal(r->nreplicas, 0);
        assert_false(r->incremental);
    } else {
        assert_true(row.import_requested);
        assert_true(r->incremental == (strcmp(row.prestage_state, "ready") == 0));
    }
    if (w->peer_down) {
        *http = 0;
        return errf(err, errlen, "unreachable");
    }
    for (size_t i = 0; i < w->nimports; i++)
        if (strcmp(w->imports[i].backup, r->backup) == 0 && !w->imports[i].dropped) {
            util_strlcpy(out->id, w->imports[i].id, sizeof out->id);
            out->phase = w->imports[i].phase;
            *http = 202;
            return 0;
        }
    int ri = resv_index(w, r->reservation);
    if (ri < 0 || w->released[ri]) {
        *http = 409;
        return errf(err, errlen, "refused: HTTP 409: reservation %s unknown", r->reservation);
    }
    assert_true(w->nimports < NIMPORTS);
    struct fimport *x = &w->imports[w->nimports++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "imp-%zu", w->nimports);
    util_strlcpy(x->backup, r->backup, sizeof x->backup);
    util_strlcpy(x->ns, r->namespace_, sizeof x->ns);
    x->polls_left = 3;
    x->phase = MIG_IMPORT_WAITING_BACKUP;
    x->prestage = r->prestage;
    x->incremental = r->incremental;
    util_strlcpy(x->home, r->home ? r->home : "", sizeof x->home);
    assert_true(r->nreplicas <= 4);
    memcpy(x->reps, r->replicas, r->nreplicas * sizeof *r->replicas);
    x->nreps = r->nreplicas;
    util_strlcpy(out->id, x->id, sizeof out->id);
    *http = 202;
    return 0;
}

static struct fimport *find_import(struct world *w, const char *id)
{
    for (size_t i = 0; i < w->nimports; i++)
        if (strcmp(w->imports[i].id, id) == 0)
            return &w->imports[i];
    return NULL;
}

/* The peer's prestage import of namespace ns that is ready and kept. */
static const struct fimport *prestaged(struct world *w, const char *ns)
{
    for (size_t i = 0; i < w->nimports; i++)
        if (w->imports[i].prestage && !w->imports[i].dropped &&
            w->imports[i].phase == MIG_IMPORT_READY && strcmp(w->imports[i].ns, ns) == 0)
            return &w->imports[i];
    return NULL;
}

/* How an import ends at the peer: as the real importer decides. */
static enum mig_import_phase import_end(struct world *w, struct fimport *x)
{
    if (w->import_fails) {
        util_strlcpy(x->error, "restored workload never became ready", sizeof x->error);
        return MIG_IMPORT_FAILED;
    }
    if (x->incremental && !prestaged(w, x->ns)) {
        util_strlcpy(x->error, "namespace was not prestaged", sizeof x->error);
        return MIG_IMPORT_FAILED;
    }
    if (!x->incremental && prestaged(w, x->ns)) {
        util_strlcpy(x->error, "namespace already exists", sizeof x->error);
        return MIG_IMPORT_FAILED;
    }
    return MIG_IMPORT_READY;
}

static int f_import_get(void *ctx, const struct cfg_peer *peer, const char *id,
                        struct mig_import_status *out, long *http, char *err, size_t errlen)
{
    struct world *w = ctx;
    (void)peer;
    memset(out, 0, sizeof *out);
    struct fimport *x = find_import(w, id);
    if (w->peer_down) {
        *http = 0;
        return errf(err, errlen, "unreachable");
    }
    if (!x || x->dropped) {
        *http = 404;
        return errf(err, errlen, "refused: HTTP 404");
    }
    if (x->polls_left > 0 && --x->polls_left == 0) {
        struct fbackup *b = find_backup(w, x->backup);
        x->phase = import_end(w, x);
        /* A prestaged workload is kept at 0: it runs nothing yet. */
        if (x->phase == MIG_IMPORT_READY && !x->prestage)
            w->target_version[ns_index(w, x->ns)] = b ? b->captured : -1;
    } else if (x->polls_left > 0) {
        x->phase = MIG_IMPORT_RESTORING;
    }
    util_strlcpy(out->id, x->id, sizeof out->id);
    out->phase = x->phase;
    out->restore_s = 120;
    out->restored_bytes = 37e9; /* shop's data, all of it */
    if (x->phase == MIG_IMPORT_FAILED)
        util_strlcpy(out->error, x->error, sizeof out->error);
    *http = 200;
    return 0;
}

static int f_import_drop(void *ctx, const struct cfg_peer *peer, const char *id, long *http,
                         char *err, size_t errlen)
{
    struct world *w = ctx;
    (void)peer;
    if (w->peer_down) {
        *http = 0;
        return errf(err, errlen, "unreachable");
    }
    struct fimport *x = find_import(w, id);
    if (x && !x->dropped) {
        x->dropped = true;
        w->target_version[ns_index(w, x->ns)] = -1;
    }
    *http = x ? 204 : 404;
    return x ? 0 : -1;
}

static void f_reserve(void *ctx, const struct cfg_peer *peer, const char *from_site,
                      const char *workload, double kw, int64_t ttl_s, struct peer_reservation *out)
{
    struct world *w = ctx;
    (void)peer, (void)from_site, (void)workload, (void)ttl_s;
    memset(out, 0, sizeof *out);
    assert_true(w->nresv < 4);
    snprintf(w->reservations[w->nresv], sizeof w->reservations[0], "rsv-m%zu", w->nresv);
    util_strlcpy(out->grant.id, w->reservations[w->nresv], sizeof out->grant.id);
    out->grant.kw = kw;
    out->outcome = PEER_GRANTED;
    w->nresv++;
}

static int f_release(void *ctx, const struct cfg_peer *peer, const char *id, char *err,
                     size_t errlen)
{
    struct world *w = ctx;
    (void)peer;
    if (w->peer_down)
        return errf(err, errlen, "unreachable");
    int i = resv_index(w, id);
    if (i >= 0)
        w->released[i] = true;
    return 0; /* 404 counts as released */
}

static int f_traffic(void *ctx, const struct cfg_traffic *t, const struct mig_traffic_switch *sw,
                     char *err, size_t errlen)
{
    struct world *w = ctx;
    (void)t, (void)err, (void)errlen;
    struct store_mig m = saved_row(w, sw->workload);
    assert_true(strcmp(m.phase, "cutover") == 0 || strcmp(m.phase, "rolling-back") == 0);
    int i = strcmp(sw->workload, "shop") == 0 ? 0 : 1;
    util_strlcpy(w->record[i], sw->address, sizeof w->record[i]);
    return 0;
}

static bool f_crash(void *ctx, const char *where)
{
    struct world *w = ctx;
    (void)where;
    if (w->crash_at && ++w->points == w->crash_at) {
        w->crashed = true;
        return true;
    }
    return false;
}

static const struct migrator_ops fake_ops = {
    .begin = f_begin,
    .ns_read = f_ns_read,
    .scale = f_scale,
    .delete_ns = f_delete_ns,
    .backup_create = f_backup_create,
    .backup_get = f_backup_get,
    .backup_bytes = f_backup_bytes,
    .import_start = f_import_start,
    .import_get = f_import_get,
    .import_drop = f_import_drop,
    .reserve = f_reserve,
    .release = f_release,
    .traffic = f_traffic,
    .crash_point = f_crash,
};

/* ---- the agent ---- */

#define TOKEN_READ "read-token-0123456789"
#define TOKEN_OPERATOR "operator-token-0123456789"

struct fixture {
    char dir[64], path[96];
    struct cfg_token tokens[2];
    struct cfg_peer peers[1];
    struct cfg_static_workload statics[2];
    char *quiesce[3];
    struct floe_config cfg;
    struct agent a;
    struct world w;
};

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->now = T0;
    w->ns[0] = (struct fns){.name = "shop",
                            .exists = true,
                            .objs = {{MIG_DEPLOYMENT, "web", 3}, {MIG_STATEFULSET, "db", 1}},
                            .nobjs = 2};
    w->ns[1] = (struct fns){
        .name = "front", .exists = true, .objs = {{MIG_DEPLOYMENT, "nginx", 2}}, .nobjs = 1};
    w->target_version[0] = w->target_version[1] = -1;
    util_strlcpy(w->record[0], "192.0.2.10", sizeof w->record[0]);
    util_strlcpy(w->record[1], "192.0.2.10", sizeof w->record[1]);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/floe-migrator.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/floe.db", f->dir);
    char err[256];
    if (store_open(&f->a.store, f->path, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    f->peers[0] = (struct cfg_peer){.name = "falkenberg-1",
                                    .url = "http://127.0.0.1:9",
                                    .token = "t",
                                    .ingress = "198.51.100.7",
                                    .velero_storage_location = "falkenberg-minio"};
    f->quiesce[0] = "fsfreeze";
    f->quiesce[1] = "--freeze";
    f->quiesce[2] = "/data";
    f->statics[0] = (struct cfg_static_workload){.name = "shop",
                                                 .namespace_ = "shop",
                                                 .power_kw = 40,
                                                 .data_gb = 37,
                                                 .priority = 50,
                                                 .hostname = "shop.apps.example.org",
                                                 .quiesce = f->quiesce,
                                                 .nquiesce = 3};
    f->statics[1] = (struct cfg_static_workload){.name = "front",
                                                 .namespace_ = "front",
                                                 .power_kw = 10,
                                                 .priority = 50,
                                                 .stateless = true,
                                                 .hostname = "front.apps.example.org"};
    struct floe_config *c = &f->cfg;
    f->tokens[0] = (struct cfg_token){"noc", ROLE_READ, TOKEN_READ};
    f->tokens[1] = (struct cfg_token){"facility", ROLE_OPERATOR, TOKEN_OPERATOR};
    c->http.tokens = f->tokens;
    c->http.ntokens = 2;
    c->site.name = "lulea-1";
    c->site.ingress = "192.0.2.10";
    c->peers = f->peers;
    c->npeers = 1;
    c->workloads.source = "static";
    c->workloads.statics = f->statics;
    c->workloads.nstatics = 2;
    c->migrator = (struct cfg_migrator){.driver = "velero",
                                        .velero_namespace = "velero",
                                        .delta_interval_ms = 600000,
                                        .max_parallel = 2,
                                        .backup_ttl_ms = 72 * 3600000LL,
                                        .retain_source_ms = 3600000,
                                        .retries = 2,
                                        .enabled = true,
                                        .tick_ms = 1000};
    c->traffic = (struct cfg_traffic){.driver = "webhook", .url = "http://127.0.0.1:9", .ttl = 30};
    agent_config_init(&f->a, config_ref(c));
    f->a.inventory = inv_watch_new(&f->a);
    inv_watch_tick(f->a.inventory, T0, 0);
    f->a.metrics = metrics_new(100);
    world_init(&f->w);
    f->w.store = f->a.store;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    inv_watch_stop(f->a.inventory);
    migrator_stop(f->a.migrator);
    metrics_free(f->a.metrics);
    store_close(f->a.store);
    agent_config_clear(&f->a);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void hold_until(struct fixture *f, const char *workload, const char *id, double kw,
                       int64_t expires_ms)
{
    struct world *w = &f->w;
    util_strlcpy(w->reservations[w->nresv++], id, sizeof w->reservations[0]);
    struct store_hold h = {.peer = "falkenberg-1",
                           .id = (char *)id,
                           .workload = (char *)workload,
                           .namespace_ = (char *)workload,
                           .kw = kw,
                           .decision_id = 3,
                           .created_ms = T0,
                           .expires_ms = expires_ms};
    char err[256];
    if (store_hold_add(f->a.store, &h, err, sizeof err) != 0)
        fail_msg("store_hold_add: %s", err);
}

/* A hold with the TTL placement gives (placer_ttl_s). */
static void hold(struct fixture *f, const char *workload, const char *id, double kw)
{
    struct pl_rates r = pl_rates_report();
    struct pl_estimate est;
    char err[128];
    bool stateless = strcmp(workload, "front") == 0;
    assert_int_equal(pl_estimate(&r, stateless ? 0 : 37, stateless, &est, err, sizeof err), 0);
    hold_until(f, workload, id, kw,
               T0 + placer_ttl_s(&est, f->cfg.migrator.delta_interval_ms) * 1000);
}

/* One tick with a migrator that knows nothing but the store. */
static void tick(struct fixture *f)
{
    struct migrator_ops ops = fake_ops;
    ops.ctx = &f->w;
    struct migrator *mg = migrator_new(&f->a, &ops);
    assert_non_null(mg);
    migrator_tick(mg, f->w.now);
    migrator_stop(mg);
    f->w.crashed = false; /* the agent is started again */
    f->w.now += TICK_MS;
    world_advance(&f->w);
}

static size_t load(struct fixture *f, struct store_mig **rows)
{
    size_t n;
    char err[256];
    if (store_mig_list(f->a.store, false, 0, rows, &n, err, sizeof err) != 0)
        fail_msg("store_mig_list: %s", err);
    return n;
}

/* Ticks until every migration is final and nothing is left to do. */
static void run_to_end(struct fixture *f)
{
    for (int i = 0; i < MAX_TICKS; i++) {
        tick(f);
        struct store_mig *rows;
        size_t n = load(f, &rows);
        bool busy = n == 0;
        for (size_t k = 0; k < n; k++)
            busy |= !rows[k].result[0] ||
                    (strcmp(rows[k].result, "done") == 0 && !rows[k].source_deleted_ms);
        free(rows);
        if (!busy)
            return;
    }
    fail_msg("migrations did not end in %d ticks", MAX_TICKS);
}

static const struct store_mig *by_workload(const struct store_mig *rows, size_t n, const char *wl)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].workload, wl) == 0)
            return &rows[i];
    fail_msg("no migration of %s", wl);
    return NULL;
}

static double holds_kw(struct fixture *f)
{
    struct store_hold *rows;
    size_t n;
    char err[256];
    assert_int_equal(
        store_hold_active(f->a.store, f->w.now + 86400000LL, &rows, &n, err, sizeof err), 0);
    double kw = 0;
    for (size_t i = 0; i < n; i++)
        kw += rows[i].kw;
    store_hold_rows_free(rows, n);
    return kw;
}

/* Each workload runs at exactly one site, at its original counts, with
 * every write; no reservation or hold is left. */
static void expect_moved(struct fixture *f, const char *why)
{
    struct world *w = &f->w;
    struct store_mig *rows;
    size_t n = load(f, &rows);
    const struct store_mig *shop = by_workload(rows, n, "shop");
    const struct store_mig *front = by_workload(rows, n, "front");
    if (strcmp(shop->result, "done") != 0 || strcmp(front->result, "done") != 0)
        fail_msg("%s: shop %s (%s), front %s (%s)", why, shop->result, shop->error, front->result,
                 front->error);
    /* The source is gone (after retain_source), the target runs it. */
    assert_false(w->ns[0].exists);
    assert_false(w->ns[1].exists);
    size_t live = 0;
    bool incremental = f->cfg.migrator.incremental_restore;
    for (size_t i = 0; i < w->nimports; i++) {
        const struct fimport *x = &w->imports[i];
        if (x->dropped || x->phase != MIG_IMPORT_READY || x->prestage)
            continue;
        live++;
        /* With incremental restore, shop's final backup went into the
         * namespace its prestage import made; front has no data. */
        if (x->incremental != (incremental && strcmp(x->ns, "shop") == 0))
            fail_msg("%s: import %s of %s is%s incremental", why, x->id, x->ns,
                     x->incremental ? "" : " not");
        if (strcmp(x->ns, "shop") == 0) {
            assert_int_equal(x->nreps, 2);
            assert_string_equal(x->reps[0].key, "deployment/web");
            assert_int_equal(x->reps[0].replicas, 3);
            assert_string_equal(x->reps[1].key, "statefulset/db");
            assert_int_equal(x->reps[1].replicas, 1);
        } else {
            assert_int_equal(x->nreps, 1);
            assert_int_equal(x->reps[0].replicas, 2);
        }
    }
    assert_int_equal(live, 2);
    if (incremental != (prestaged(w, "shop") != NULL) || prestaged(w, "front"))
        fail_msg("%s: prestage import of shop %s", why, prestaged(w, "shop") ? "kept" : "missing");
    assert_true(incremental == (strcmp(shop->prestage_state, "ready") == 0));
    /* No write lost: the target runs the version writes stopped at. */
    if (w->target_version[0] != w->ns[0].version)
        fail_msg("%s: shop runs version %lld at the target, writes stopped at %lld", why,
                 (long long)w->target_version[0], (long long)w->ns[0].version);
    assert_string_equal(w->record[0], "198.51.100.7");
    assert_string_equal(w->record[1], "198.51.100.7");
    for (size_t i = 0; i < w->nresv; i++)
        assert_true(w->released[i]);
    assert_true(holds_kw(f) == 0);
    assert_true(shop->downtime_s > 0 && isfinite(shop->estimated_downtime_s));
    assert_true(front->downtime_s == 0);
    free(rows);
}

/* ---- tests ---- */

static void holds_become_migrations_and_both_workloads_move(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    hold(f, "front", "rsv-2", 10);
    tick(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 2);
    const struct store_mig *shop = by_workload(rows, n, "shop");
    assert_true(shop->data_gb == 37);
    assert_string_equal(shop->quiesce, "[\"fsfreeze\",\"--freeze\",\"/data\"]");
    assert_string_equal(shop->hostname, "shop.apps.example.org");
    assert_true(by_workload(rows, n, "front")->stateless);
    free(rows);
    /* Confirmed: they count past the holds' TTL. */
    assert_true(holds_kw(f) == 50);
    run_to_end(f);
    expect_moved(f, "no crash");
    /* The peer's rates were learned from what moved. */
    struct store_mig_rates r;
    char err[256];
    assert_int_equal(store_mig_rates(f->a.store, "falkenberg-1", &r, err, sizeof err), 0);
    assert_true(r.samples[STORE_RATE_INITIAL] >= 1 && r.samples[STORE_RATE_RESTORE] >= 1);
    /* ... and its fixed time, from shop's downtime (front, stateless, is
     * never down): what shop's final backup and restore did not explain
     * at the rates learned. */
    assert_int_equal(r.samples[STORE_RATE_FIXED], 1);
    n = load(f, &rows);
    struct mig_params p = {.rates = placer_rates(&f->a, "falkenberg-1")};
    shop = by_workload(rows, n, "shop");
    double fixed = mig_fixed_s(shop, &p);
    assert_true(fixed > 0 && fixed < shop->downtime_s);
    assert_true(fabs(r.gb_per_min[STORE_RATE_FIXED] - fixed) < 1e-9);
    assert_true(p.rates.fixed_s == r.gb_per_min[STORE_RATE_FIXED]); /* placement reads it */
    free(rows);
}

static void crash_matrix(struct fixture *f)
{
    /* Count the crash points of a clean run first. */
    hold(f, "shop", "rsv-1", 40);
    hold(f, "front", "rsv-2", 10);
    f->w.crash_at = -1; /* count only */
    run_to_end(f);
    int points = f->w.points;
    assert_true(points > 20);
    char err[256];
    for (int k = 1; k <= points + 1; k++) {
        /* A fresh site: store, world, holds. */
        store_close(f->a.store);
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -f %s %s-wal %s-shm", f->path, f->path, f->path);
        assert_int_equal(system(cmd), 0);
        if (store_open(&f->a.store, f->path, err, sizeof err) != 0)
            fail_msg("store_open: %s", err);
        world_init(&f->w);
        f->w.store = f->a.store;
        hold(f, "shop", "rsv-1", 40);
        hold(f, "front", "rsv-2", 10);
        f->w.crash_at = k;
        run_to_end(f);
        char why[48];
        snprintf(why, sizeof why, "crash at point %d of %d", k, points);
        expect_moved(f, why);
    }
    print_message("%d crash points%s, each ends moved\n", points,
                  f->cfg.migrator.incremental_restore ? " (incremental restore)" : "");
}

static void the_same_end_after_a_crash_at_any_point(void **state)
{
    crash_matrix(*state);
}

static void the_same_end_after_a_crash_at_any_point_with_incremental_restore(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.incremental_restore = true;
    crash_matrix(f);
}

static void expect_prestage_in_the_api(struct fixture *f);

static void incremental_restore_prestages_then_moves_only_the_delta(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.incremental_restore = true;
    hold(f, "shop", "rsv-1", 40);
    hold(f, "front", "rsv-2", 10);
    /* The prestage import is asked for once the initial backup is done,
     * and is ready before the downtime starts. */
    bool prestaged_before_downtime = false;
    for (int i = 0; i < MAX_TICKS && !prestaged_before_downtime; i++) {
        tick(f);
        struct store_mig m = saved_row(&f->w, "shop");
        assert_true(m.downtime_start_ms == 0 || strcmp(m.prestage_state, "ready") == 0);
        prestaged_before_downtime = m.downtime_start_ms != 0;
    }
    assert_true(prestaged_before_downtime);
    run_to_end(f);
    expect_moved(f, "incremental restore");
    expect_prestage_in_the_api(f);
}

static void a_failed_prestage_rolls_back_and_drops_it(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.incremental_restore = true;
    hold(f, "shop", "rsv-1", 40);
    f->w.import_fails = true;
    run_to_end(f);
    struct store_mig m = saved_row(&f->w, "shop");
    assert_string_equal(m.result, "rolled-back");
    assert_non_null(strstr(m.error, "prestage import"));
    assert_string_equal(m.prestage_state, "dropped");
    assert_int_equal(m.downtime_start_ms, 0);
    /* Never stopped here: writes went on all along. */
    assert_false(m.scaled);
    assert_int_equal(f->w.nimports, 1);
    assert_true(f->w.imports[0].prestage && f->w.imports[0].dropped);
    assert_true(f->w.released[0]);
    assert_true(holds_kw(f) == 0);
}

static void a_rollback_after_the_quiesce_hook_leaves_the_source_writable(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    /* Up to the final backup, which carries the quiesce pre hook. */
    for (int i = 0; i < MAX_TICKS; i++) {
        tick(f);
        struct store_mig m = saved_row(&f->w, "shop");
        if (strcmp(m.phase, "switchover") == 0 && m.step == 1)
            break;
    }
    assert_true(f->w.ns[0].quiesced);
    struct store_mig m = saved_row(&f->w, "shop");
    assert_false(m.scaled);
    char why[200], err[256];
    assert_int_equal(
        store_mig_abort(f->a.store, m.id, "facility", f->w.now, why, sizeof why, err, sizeof err),
        0);
    run_to_end(f);
    m = saved_row(&f->w, "shop");
    assert_string_equal(m.result, "rolled-back");
    /* Back at its counts, restarted: the pods write again. */
    struct world *w = &f->w;
    assert_int_equal(w->ns[0].objs[0].replicas, 3);
    assert_int_equal(w->ns[0].objs[1].replicas, 1);
    assert_false(w->ns[0].quiesced);
    int64_t v = w->ns[0].version;
    tick(f);
    assert_true(w->ns[0].version > v);
    assert_true(w->released[0]);
}

static void failed_and_restarted_backups_are_retried_and_still_lose_nothing(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    hold(f, "front", "rsv-2", 10);
    f->w.fail_backups = 1;
    tick(f);
    tick(f);
    f->w.restart_next_backup = true;
    run_to_end(f);
    expect_moved(f, "failed backup, then a Velero restart");
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_true(by_workload(rows, n, "shop")->seq + by_workload(rows, n, "front")->seq >= 5);
    free(rows);
}

static void a_failing_import_rolls_back_to_the_original_replicas(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    f->w.import_fails = true;
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    const struct store_mig *shop = by_workload(rows, n, "shop");
    assert_string_equal(shop->result, "rolled-back");
    assert_non_null(strstr(shop->error, "never became ready"));
    free(rows);
    /* Runs here again as before, nothing at the target, nothing held. */
    struct world *w = &f->w;
    assert_true(w->ns[0].exists);
    assert_int_equal(w->ns[0].objs[0].replicas, 3);
    assert_int_equal(w->ns[0].objs[1].replicas, 1);
    for (size_t i = 0; i < w->nimports; i++)
        assert_true(w->imports[i].dropped);
    assert_true(w->released[0]);
    assert_true(holds_kw(f) == 0);
    assert_string_equal(w->record[0], "192.0.2.10");
    /* Its backups taught rates; its downtime teaches no fixed time. */
    struct store_mig_rates r;
    char err[256];
    assert_int_equal(store_mig_rates(f->a.store, "falkenberg-1", &r, err, sizeof err), 0);
    assert_true(r.samples[STORE_RATE_INITIAL] >= 1);
    assert_int_equal(r.samples[STORE_RATE_FIXED], 0);
    assert_true(placer_rates(&f->a, "falkenberg-1").fixed_s == 0);
}

static void abort_through_the_store_rolls_back(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    for (int i = 0; i < 12; i++)
        tick(f);
    struct store_mig *rows;
    assert_int_equal(load(f, &rows), 1);
    int64_t id = rows[0].id;
    free(rows);
    char why[200], err[256];
    assert_int_equal(
        store_mig_abort(f->a.store, id, "facility", f->w.now, why, sizeof why, err, sizeof err), 0);
    run_to_end(f);
    assert_int_equal(load(f, &rows), 1);
    assert_string_equal(rows[0].result, "rolled-back");
    assert_string_equal(rows[0].error, "aborted by facility");
    free(rows);
    assert_int_equal(f->w.ns[0].objs[0].replicas, 3);
    assert_true(f->w.released[0]);
    assert_true(holds_kw(f) == 0);
}

static void a_workload_gone_from_the_inventory_releases_its_reservation(void **state)
{
    struct fixture *f = *state;
    hold(f, "nosuch", "rsv-1", 5);
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].result, "rolled-back");
    assert_non_null(strstr(rows[0].error, "no longer in the workload inventory"));
    free(rows);
    assert_true(f->w.released[0]);
    assert_true(holds_kw(f) == 0);
}

/* A quiesce command floe cannot carry whole is never cut: the inventory
 * and the migrator refuse it (rolled back, nothing backed up, the
 * reservation released), and a manual migration is refused. */
static void a_quiesce_command_too_long_is_refused_never_cut(void **state)
{
    struct fixture *f = *state;
    char *words[CFG_QUIESCE_WORDS + 1];
    words[0] = "fsfreeze";
    for (size_t i = 1; i <= CFG_QUIESCE_WORDS; i++)
        words[i] = "/data";
    f->statics[0].quiesce = words;
    f->statics[0].nquiesce = CFG_QUIESCE_WORDS + 1;
    inv_watch_tick(f->a.inventory, T0, 0);
    hold(f, "shop", "rsv-1", 40);
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].result, "rolled-back");
    assert_non_null(strstr(rows[0].error, "quiesce command too long: 65 words"));
    free(rows);
    assert_int_equal(f->w.nbackups, 0);
    assert_true(f->w.released[0]);
    assert_true(holds_kw(f) == 0);

    struct migrator_ops ops = fake_ops;
    ops.ctx = &f->w;
    struct migrator *mg = migrator_new(&f->a, &ops);
    int64_t id = 0;
    char err[256];
    assert_int_equal(migrator_manual(mg, &f->cfg, "shop", "falkenberg-1", "facility", f->w.now,
                                     &id, err, sizeof err),
                     409);
    assert_non_null(strstr(err, "quiesce command too long"));
    assert_int_equal(f->w.nresv, 1); /* nothing reserved */
    migrator_stop(mg);
}

/* A row whose quiesce command cannot be carried whole (edited, or from an
 * older build): the final backup is not made with it cut short; the
 * migration rolls back with the reason, the source keeps running. */
static void a_stored_quiesce_command_too_long_rolls_back(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    tick(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1);
    struct store_mig m = rows[0];
    free(rows);
    size_t len = (size_t)snprintf(m.quiesce, sizeof m.quiesce, "[\"fsfreeze\"");
    for (int i = 0; i < CFG_QUIESCE_WORDS; i++)
        len += (size_t)snprintf(m.quiesce + len, sizeof m.quiesce - len, ",\"/data\"");
    snprintf(m.quiesce + len, sizeof m.quiesce - len, "]");
    char err[256];
    assert_int_equal(store_mig_save(f->a.store, &m, NULL, err, sizeof err), 0);
    run_to_end(f);
    n = load(f, &rows);
    assert_string_equal(rows[0].result, "rolled-back");
    assert_non_null(strstr(rows[0].error, "quiesce command too long: 65 words"));
    free(rows);
    for (size_t i = 0; i < f->w.nbackups; i++)
        assert_false(f->w.backups[i].quiesce);
    assert_int_equal(f->w.ns[0].objs[0].replicas, 3);
    assert_int_equal(f->w.ns[0].objs[1].replicas, 1);
    assert_true(f->w.released[0]);
}

/* Ticks until shop's migration is in phase (fails after MAX_TICKS). */
static void tick_until(struct fixture *f, const char *phase)
{
    for (int i = 0; i < MAX_TICKS; i++) {
        tick(f);
        struct store_mig *rows;
        size_t n = load(f, &rows);
        bool there = n && strcmp(by_workload(rows, n, "shop")->phase, phase) == 0;
        free(rows);
        if (there)
            return;
    }
    fail_msg("shop never reached %s", phase);
}

/* The migrator section removed (a reload): no new migration starts, and
 * those under way are not frozen. One whose source has not stopped rolls
 * back; one whose source is at 0 runs to its end. */
static void removing_the_migrator_section_winds_migrations_down(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    tick_until(f, "precopy");
    f->cfg.migrator.enabled = false;
    hold(f, "front", "rsv-2", 10);
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1); /* front's hold did not become a migration */
    assert_string_equal(rows[0].result, "rolled-back");
    assert_non_null(strstr(rows[0].error, "migrator section was removed"));
    free(rows);
    assert_true(f->w.released[0]);
    assert_int_equal(f->w.ns[0].objs[0].replicas, 3);
}

static void removing_the_migrator_section_finishes_a_stopped_workload(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    tick_until(f, "restoring");
    assert_int_equal(f->w.ns[0].objs[0].replicas, 0); /* down here */
    f->cfg.migrator.enabled = false;
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].result, "done");
    free(rows);
    assert_int_equal(f->w.target_version[0], f->w.ns[0].version);
    assert_true(f->w.released[0]);
}

/* The reservation's TTL covers the initial backup, every delta the
 * migrator may take and the switchover at their budgets. */
static void reservation_ttl_covers_precopy_deltas_and_switchover(void **state)
{
    struct fixture *f = *state;
    struct pl_rates r = pl_rates_report();
    struct pl_estimate est;
    char err[128];
    assert_int_equal(pl_estimate(&r, 100, false, &est, err, sizeof err), 0);
    double want = PLACER_TTL_MIN_S + 3 * est.initial_s +
                  MIG_MAX_DELTAS * (600 + 3 * est.final_delta_s) + 3 * est.downtime_s;
    int64_t ttl = placer_ttl_s(&est, 600000);
    assert_true(fabs((double)ttl - ceil(want)) <= 1);
    assert_true(ttl > est.initial_s + MIG_MAX_DELTAS * 600 + est.downtime_s);
    /* stateless: no deltas */
    assert_int_equal(pl_estimate(&r, 0, true, &est, err, sizeof err), 0);
    assert_int_equal(placer_ttl_s(&est, 600000), PLACER_TTL_MIN_S);
    assert_int_equal(placer_ttl_s(NULL, 600000), PLACER_TTL_MIN_S);
    (void)f;
}

/* A reservation that would lapse before the import confirms it (a long
 * wait for a slot, slow backups): rolled back before the switchover, with
 * no downtime, and released. */
static void a_reservation_about_to_lapse_rolls_back_before_any_downtime(void **state)
{
    struct fixture *f = *state;
    hold_until(f, "shop", "rsv-1", 40, T0 + 20 * 60000);
    run_to_end(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].result, "rolled-back");
    assert_non_null(
        strstr(rows[0].error, "reservation at falkenberg-1 would expire before the import could "
                              "start"));
    assert_false(rows[0].scaled);
    assert_int_equal(rows[0].downtime_start_ms, 0);
    free(rows);
    for (size_t i = 0; i < f->w.nbackups; i++)
        assert_false(f->w.backups[i].quiesce); /* no final backup */
    assert_int_equal(f->w.nimports, 0);
    assert_int_equal(f->w.ns[0].objs[0].replicas, 3);
    assert_true(f->w.released[0]);
    assert_true(holds_kw(f) == 0);
}

static void at_most_max_parallel_past_reserved(void **state)
{
    struct fixture *f = *state;
    f->cfg.migrator.max_parallel = 1;
    hold(f, "shop", "rsv-1", 40);
    hold(f, "front", "rsv-2", 10);
    tick(f);
    tick(f);
    struct store_mig *rows;
    size_t n = load(f, &rows);
    int past = 0;
    for (size_t i = 0; i < n; i++)
        past += strcmp(rows[i].phase, "reserved") != 0;
    free(rows);
    assert_int_equal(past, 1);
    run_to_end(f);
    expect_moved(f, "one at a time");
}

static void manual_migration_reserves_and_moves(void **state)
{
    struct fixture *f = *state;
    struct migrator_ops ops = fake_ops;
    ops.ctx = &f->w;
    struct migrator *mg = migrator_new(&f->a, &ops);
    int64_t id = 0;
    char err[256];
    assert_int_equal(
        migrator_manual(mg, &f->cfg, "shop", "nowhere", "facility", T0, &id, err, sizeof err), 400);
    assert_int_equal(migrator_manual(mg, &f->cfg, "nosuch", "falkenberg-1", "facility", T0, &id,
                                     err, sizeof err),
                     404);
    assert_int_equal(
        migrator_manual(mg, &f->cfg, "shop", "falkenberg-1", "facility", T0, &id, err, sizeof err),
        0);
    assert_true(id > 0);
    assert_int_equal(
        migrator_manual(mg, &f->cfg, "shop", "falkenberg-1", "facility", T0, &id, err, sizeof err),
        409);
    assert_non_null(strstr(err, "already"));
    assert_int_equal(f->w.nresv, 1); /* the refused one reserved nothing */
    migrator_stop(mg);
    hold(f, "front", "rsv-2", 10);
    run_to_end(f);
    expect_moved(f, "manual");
}

static void placement_learns_the_rates_and_leaves_a_kept_source_alone(void **state)
{
    struct fixture *f = *state;
    struct pl_rates before = placer_rates(&f->a, "falkenberg-1");
    struct pl_rates report = pl_rates_report();
    assert_true(before.initial_gb_per_min == report.initial_gb_per_min);
    hold(f, "shop", "rsv-1", 40);
    /* Until shop is done and its reservation released (so no hold says
     * it moves), its source still kept here (retain_source 1 h). */
    for (int i = 0; i < MAX_TICKS; i++) {
        tick(f);
        struct store_mig *rows;
        load(f, &rows);
        bool done = strcmp(rows[0].result, "done") == 0 && rows[0].released_ms;
        free(rows);
        if (done)
            break;
    }
    assert_true(holds_kw(f) == 0);
    assert_true(f->w.ns[0].exists);
    /* The fake cluster moved 1 GB per backup in 1-3 min, restores 37 GB
     * in 2 min: far from the report's figures. */
    struct pl_rates learned = placer_rates(&f->a, "falkenberg-1");
    assert_true(learned.initial_gb_per_min < 0.5);
    assert_true(fabs(learned.restore_gb_per_min - 18.5) < 1e-9);
    struct pl_rates all = placer_rates(&f->a, NULL);
    assert_true(all.restore_gb_per_min == learned.restore_gb_per_min);
    assert_true(placer_rates(&f->a, "oslo-2").restore_gb_per_min == report.restore_gb_per_min);
    /* shop's downtime beyond its transfers: placement counts it too. */
    assert_true(before.fixed_s == 0 && learned.fixed_s > 0 && all.fixed_s == learned.fixed_s);
    struct pl_rates with = all;
    with.incremental_restore = f->cfg.migrator.incremental_restore;
    struct pl_estimate want;
    char err[128];
    assert_int_equal(pl_estimate(&with, 37, false, &want, err, sizeof err), 0);

    struct decision d;
    decision_init(&d);
    d.kind = POL_ACTION_SHED;
    d.status = DECISION_PLACING;
    d.need_kw = 40;
    struct placer_grants g;
    placer_place_current(&f->a, &f->cfg, &d, f->w.now, &g);
    bool seen = false;
    for (size_t i = 0; i < d.nworkloads; i++)
        if (strcmp(d.workloads[i].name, "shop") == 0) {
            seen = true;
            assert_false(d.workloads[i].chosen);
            assert_non_null(strstr(d.workloads[i].reason, "already moving"));
            assert_true(fabs(d.workloads[i].downtime_s - want.downtime_s) < 1e-9);
        }
    assert_true(seen);
    assert_int_equal(g.n, 0);
    placer_grants_clear(&g);
    decision_clear(&d);
}

/* The workload comes back before this site's migration of it ended (the
 * peer's failback started while the source waited out the DNS TTL): the
 * import here was made before the migration's end and takes the kept
 * source over once it is done. The migration finds it all the same and
 * never deletes the namespace, where the workload runs again. */
static void a_return_begun_before_the_migration_ended_is_found(void **state)
{
    struct fixture *f = *state;
    hold(f, "shop", "rsv-1", 40);
    struct store_mig *rows = NULL;
    size_t n = 0;
    for (int i = 0; i < MAX_TICKS && n == 0; i++) {
        tick(f);
        free(rows);
        n = load(f, &rows);
    }
    assert_int_equal(n, 1);
    int64_t mig_id = rows[0].id;
    free(rows);
    /* falkenberg-1 sends shop back: a reservation here and its import,
     * made now (the migration has not ended), owning the namespace. */
    char err[256] = "", why[256] = "";
    struct store_resv_request rq = {.from_site = "falkenberg-1",
                                    .workload = "shop",
                                    .granted_by = "falkenberg-1",
                                    .kw = 40,
                                    .ttl_ms = 600000};
    struct store_resv rv;
    assert_int_equal(store_resv_grant(f->a.store, &rq, 1000, f->w.now, &rv, NULL, err, sizeof err),
                     0);
    struct store_import_request req = {.reservation = rv.id,
                                       .workload = "shop",
                                       .namespace_ = "shop",
                                       .backup = "floe-back-1",
                                       .replicas = "{}",
                                       .caller = "falkenberg-1"};
    struct store_import im;
    assert_int_equal(
        store_import_create(f->a.store, &req, f->w.now, &im, why, sizeof why, err, sizeof err), 0);
    store_resv_clear(&rv);
    im.owns_namespace = true;
    assert_int_equal(store_import_save(f->a.store, &im, NULL, NULL, f->w.now, err, sizeof err), 0);
    int64_t import_id = im.id;
    store_import_clear(&im);

    struct store_mig m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < MAX_TICKS; i++) {
        tick(f);
        load(f, &rows);
        m = rows[0];
        free(rows);
        if (m.source_deleted_ms || (m.retain_until_ms && f->w.now > m.retain_until_ms + TICK_MS))
            break;
    }
    assert_int_equal(m.id, mig_id);
    assert_string_equal(m.result, "done");
    assert_true(m.ended_ms > 0);
    assert_true(m.source_deleted_ms > 0);
    /* Run on past retain_source: the namespace is never deleted. */
    for (int i = 0; i < 200; i++)
        tick(f);
    assert_true(f->w.ns[0].exists);
    struct store_mig_event *ev = NULL;
    size_t nev = 0;
    assert_int_equal(store_mig_events(f->a.store, mig_id, 0, &ev, &nev, err, sizeof err), 0);
    char want[160];
    snprintf(want, sizeof want, "(import %lld here took the namespace over)",
             (long long)import_id);
    bool seen = false;
    for (size_t i = 0; i < nev; i++)
        seen |= strstr(ev[i].detail, want) != NULL;
    free(ev);
    assert_true(seen);
}

/* A move of a rebalance decision names the workload's home in its
 * import: the peer it is levelled to (its home moves with it); a shed's
 * or a manual move names none. */
static void a_levelling_move_names_its_new_home_in_the_import(void **state)
{
    struct fixture *f = *state;
    struct decision d;
    decision_init(&d);
    d.kind = POL_ACTION_REBALANCE;
    d.status = DECISION_PLACED;
    decision_set_policy(&d, "overnight-rebalance");
    struct decision_workload dw = {.name = "front",
                                   .power_kw = 10,
                                   .chosen = true,
                                   .to = "falkenberg-1",
                                   .reservation = "rsv-9",
                                   .reason = "levels load"};
    decision_add_workload(&d, &dw);
    char *body = decision_to_text(&d);
    assert_non_null(body);
    int64_t did = 0;
    char err[256];
    assert_int_equal(store_decision_add(f->a.store, T0, d.policy, "rebalance", "placed", body,
                                        NULL, &did, err, sizeof err),
                     0);
    free(body);
    decision_clear(&d);
    struct world *w = &f->w;
    util_strlcpy(w->reservations[w->nresv++], "rsv-9", sizeof w->reservations[0]);
    struct store_hold h = {.peer = "falkenberg-1",
                           .id = "rsv-9",
                           .workload = "front",
                           .namespace_ = "front",
                           .kw = 10,
                           .decision_id = did,
                           .created_ms = T0,
                           .expires_ms = T0 + 3600000};
    assert_int_equal(store_hold_add(f->a.store, &h, err, sizeof err), 0);
    hold(f, "shop", "rsv-1", 40); /* decision 3: none stored, a shed's */
    run_to_end(f);
    bool front = false, shop = false;
    for (size_t i = 0; i < w->nimports; i++) {
        if (strcmp(w->imports[i].ns, "front") == 0) {
            front = true;
            assert_string_equal(w->imports[i].home, "falkenberg-1");
        } else if (strcmp(w->imports[i].ns, "shop") == 0) {
            shop = true;
            assert_string_equal(w->imports[i].home, "");
        }
    }
    assert_true(front && shop);
}

/* A home that does not answer a reservation (here: an answer curl cannot
 * read, no HTTP status) is not asked again in the same decision: the
 * evaluator waits for each ask under place_lock. Both workloads are guests
 * of falkenberg-1, which answers capacity; only the first is asked for. */
static void a_peer_that_does_not_answer_is_not_asked_again_in_a_rebalance(void **state)
{
    struct fixture *f = *state;
    struct fake_http *peer = fake_http_start();
    assert_non_null(peer);
    char url[64];
    fake_http_url(peer, url, sizeof url);
    f->peers[0].url = url;
    fake_http_route(peer, "GET", "/v1/capacity", 200,
                    "{\"site\":\"falkenberg-1\",\"accepting\":true,\"spare_kw\":1000,"
                    "\"power_headroom_kw\":1000,\"cooling_headroom_kw\":1000,\"reserved_kw\":0,"
                    "\"ingress\":\"198.51.100.7\",\"as_of\":\"2026-01-01T00:00:00Z\"}");
    fake_http_route(peer, "POST", "/v1/reservations", 0, "{}");
    f->statics[0].home_site = "falkenberg-1";
    f->statics[1].home_site = "falkenberg-1";
    inv_watch_tick(f->a.inventory, T0 + 1000, 1000);
    struct decision d;
    decision_init(&d);
    d.kind = POL_ACTION_REBALANCE;
    d.status = DECISION_PLACING;
    decision_set_policy(&d, "overnight-rebalance");
    d.rebalance.min_gain_kw = 50;
    d.rebalance.max_migrations = 5;
    struct placer_grants g;
    rebalancer_place(&f->a, &f->cfg, &d, T0 + 2000, &g);
    size_t asked = 0;
    for (size_t i = 0; i < fake_http_count(peer); i++) {
        struct fake_http_request q;
        assert_int_equal(fake_http_request(peer, i, &q), 0);
        asked += strcmp(q.method, "POST") == 0;
    }
    assert_int_equal(asked, 1);
    assert_int_equal(g.n, 0);
    assert_int_equal(d.nworkloads, 2);
    size_t skipped = 0;
    for (size_t i = 0; i < d.nworkloads; i++) {
        assert_false(d.workloads[i].chosen);
        skipped += strstr(d.workloads[i].reason, "did not answer a reservation earlier in this "
                                                 "decision") != NULL;
    }
    assert_int_equal(skipped, 1);
    placer_grants_clear(&g);
    decision_clear(&d);
    f->statics[0].home_site = f->statics[1].home_site = NULL;
    f->peers[0].url = "http://127.0.0.1:9";
    fake_http_stop(peer);
}

/* A group's member that its home granted, then the home went silent for
 * the next member: the grant is not given back to the silent home (a
 * DELETE would wait out its timeout under place_lock); it is left to
 * lapse at its TTL, and the decision says so. */
static void a_group_grant_is_not_given_back_to_a_peer_gone_silent(void **state)
{
    struct fixture *f = *state;
    struct fake_http *peer = fake_http_start();
    assert_non_null(peer);
    char url[64];
    fake_http_url(peer, url, sizeof url);
    f->peers[0].url = url;
    fake_http_route(peer, "GET", "/v1/capacity", 200,
                    "{\"site\":\"falkenberg-1\",\"accepting\":true,\"spare_kw\":1000,"
                    "\"power_headroom_kw\":1000,\"cooling_headroom_kw\":1000,\"reserved_kw\":0,"
                    "\"ingress\":\"198.51.100.7\",\"as_of\":\"2026-01-01T00:00:00Z\"}");
    fake_http_route_once(peer, "POST", "/v1/reservations", 201,
                         "{\"id\":\"rsv-1\",\"kw\":10,\"expires_at\":\"2026-01-01T01:00:00Z\"}");
    fake_http_route(peer, "POST", "/v1/reservations", 0, "{}");
    fake_http_route(peer, "DELETE", "/v1/reservations/rsv-1", 204, "");
    f->statics[0].home_site = f->statics[1].home_site = "falkenberg-1";
    f->statics[0].group = f->statics[1].group = "shopfront";
    /* Either may be asked first: both ask for the 10 kW granted. */
    double shop_kw = f->statics[0].power_kw;
    f->statics[0].power_kw = 10;
    inv_watch_tick(f->a.inventory, T0 + 1000, 1000);
    struct decision d;
    decision_init(&d);
    d.kind = POL_ACTION_REBALANCE;
    d.status = DECISION_PLACING;
    decision_set_policy(&d, "overnight-rebalance");
    d.rebalance.min_gain_kw = 50;
    d.rebalance.max_migrations = 5;
    struct placer_grants g;
    rebalancer_place(&f->a, &f->cfg, &d, T0 + 2000, &g);
    size_t posts = 0, deletes = 0;
    for (size_t i = 0; i < fake_http_count(peer); i++) {
        struct fake_http_request q;
        assert_int_equal(fake_http_request(peer, i, &q), 0);
        posts += strcmp(q.method, "POST") == 0;
        deletes += strcmp(q.method, "DELETE") == 0;
    }
    assert_int_equal(posts, 2);
    assert_int_equal(deletes, 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(d.nworkloads, 2);
    size_t lapsing = 0;
    for (size_t i = 0; i < d.nworkloads; i++) {
        assert_false(d.workloads[i].chosen);
        lapsing += strstr(d.workloads[i].reason,
                          "reservation rsv-1 not used: another member of group 'shopfront' was "
                          "not reserved; falkenberg-1 did not answer since, so it is left to "
                          "lapse at its TTL") != NULL;
    }
    assert_int_equal(lapsing, 1);
    placer_grants_clear(&g);
    decision_clear(&d);
    f->statics[0].home_site = f->statics[1].home_site = NULL;
    f->statics[0].group = f->statics[1].group = NULL;
    f->statics[0].power_kw = shop_kw;
    f->peers[0].url = "http://127.0.0.1:9";
    fake_http_stop(peer);
}

/* ---- the API ---- */

static cJSON *call(struct fixture *f, const char *method, const char *path, const char *query,
                   const char *token, const char *body, int *status)
{
    char auth[128];
    snprintf(auth, sizeof auth, "Bearer %s", token);
    struct api_request req = {.method = method,
                              .path = path,
                              .query = query,
                              .authorization = auth,
                              .body = body,
                              .body_len = body ? strlen(body) : 0};
    struct api_response resp;
    api_handle(&f->a, &req, &resp);
    *status = resp.status;
    cJSON *json = cJSON_ParseWithLength(resp.body, resp.body_len);
    api_response_clear(&resp);
    assert_non_null(json);
    return json;
}

static void expect_status(struct fixture *f, const char *method, const char *path,
                          const char *query, const char *token, const char *body, int want,
                          const char *error_part)
{
    int status;
    cJSON *j = call(f, method, path, query, token, body, &status);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (status != want ||
        (error_part && (!cJSON_IsString(e) || !strstr(e->valuestring, error_part))))
        fail_msg("%s %s %s: %d %s, wanted %d with '%s'", method, path, body ? body : "", status,
                 cJSON_IsString(e) ? e->valuestring : "", want, error_part ? error_part : "");
    cJSON_Delete(j);
}

/* GET /v1/migrations/{id} of shop shows its prestage import. */
static void expect_prestage_in_the_api(struct fixture *f)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/migrations/%lld", (long long)saved_row(&f->w, "shop").id);
    int status;
    cJSON *j = call(f, "GET", path, NULL, TOKEN_READ, NULL, &status);
    assert_int_equal(status, 200);
    const cJSON *pre = cJSON_GetObjectItem(j, "prestage");
    assert_string_equal(cJSON_GetObjectItem(pre, "state")->valuestring, "ready");
    char backup[64];
    snprintf(backup, sizeof backup, "floe-lulea-1-shop-%lld-1",
             (long long)saved_row(&f->w, "shop").id);
    assert_string_equal(cJSON_GetObjectItem(pre, "backup")->valuestring, backup);
    assert_true(cJSON_IsString(cJSON_GetObjectItem(pre, "import")));
    cJSON_Delete(j);
}

static void migrations_through_the_api(void **state)
{
    struct fixture *f = *state;
    struct migrator_ops ops = fake_ops;
    ops.ctx = &f->w;
    f->a.migrator = migrator_new(&f->a, &ops);
    const char *op = TOKEN_OPERATOR;
    expect_status(f, "POST", "/v1/migrations", NULL, op, NULL, 400, "body");
    expect_status(f, "POST", "/v1/migrations", NULL, op, "{\"workload\": \"shop\"}", 400,
                  "to: required");
    expect_status(f, "POST", "/v1/migrations", NULL, op,
                  "{\"workload\": \"shop\", \"to\": \"a b\"}", 400, "to: must be a name");
    expect_status(f, "POST", "/v1/migrations", NULL, op,
                  "{\"workload\": \"shop\", \"workload\": \"db\", \"to\": \"x\"}", 400,
                  "workload: given twice");
    expect_status(f, "POST", "/v1/migrations", NULL, op,
                  "{\"workload\": \"shop\", \"to\": \"oslo-2\"}", 400, "no peer named 'oslo-2'");
    expect_status(f, "POST", "/v1/migrations", NULL, op,
                  "{\"workload\": \"nosuch\", \"to\": \"falkenberg-1\"}", 404,
                  "no workload named 'nosuch'");
    expect_status(f, "POST", "/v1/migrations", NULL, TOKEN_READ,
                  "{\"workload\": \"shop\", \"to\": \"falkenberg-1\"}", 403, NULL);
    int status;
    cJSON *j = call(f, "POST", "/v1/migrations", NULL, op,
                    "{\"workload\": \"shop\", \"to\": \"falkenberg-1\"}", &status);
    assert_int_equal(status, 201);
    /* SPEC 4's fields first, then the additions (docs/api.md). */
    static const char *const keys[] = {"id",
                                       "workload",
                                       "from",
                                       "to",
                                       "phase",
                                       "started",
                                       "ended",
                                       "downtime_s",
                                       "result",
                                       "namespace",
                                       "stateless",
                                       "kw",
                                       "data_gb",
                                       "hostname",
                                       "reservation",
                                       "decision_id",
                                       "estimated_downtime_s",
                                       "bytes",
                                       "phase_s",
                                       "backup",
                                       "import",
                                       "prestage",
                                       "replicas",
                                       "error",
                                       "abort_requested",
                                       "aborted",
                                       "retain_until",
                                       "source_deleted",
                                       "events",
                                       NULL};
    const cJSON *it = j->child;
    for (size_t i = 0; keys[i]; i++, it = it->next) {
        if (!it)
            fail_msg("key %s missing", keys[i]);
        assert_string_equal(it->string, keys[i]);
    }
    assert_null(it);
    int id = cJSON_GetObjectItem(j, "id")->valueint;
    assert_string_equal(cJSON_GetObjectItem(j, "from")->valuestring, "lulea-1");
    assert_string_equal(cJSON_GetObjectItem(j, "phase")->valuestring, "reserved");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "ended")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "decision_id")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "prestage")));
    const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "events"), 0);
    assert_non_null(
        strstr(cJSON_GetObjectItem(ev, "detail")->valuestring, "manual migration by facility"));
    cJSON_Delete(j);
    expect_status(f, "POST", "/v1/migrations", NULL, op,
                  "{\"workload\": \"shop\", \"to\": \"falkenberg-1\"}", 409, "already");

    j = call(f, "GET", "/v1/migrations", "active=true", TOKEN_READ, NULL, &status);
    assert_int_equal(status, 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "migrations")), 1);
    cJSON_Delete(j);
    expect_status(f, "GET", "/v1/migrations", "active=maybe", TOKEN_READ, NULL, 400, "active");
    expect_status(f, "GET", "/v1/migrations/999", NULL, TOKEN_READ, NULL, 404, "no migration 999");
    expect_status(f, "GET", "/v1/migrations/x", NULL, TOKEN_READ, NULL, 400, "id");
    j = call(f, "GET", "/v1/status", NULL, TOKEN_READ, NULL, &status);
    assert_int_equal(cJSON_GetObjectItem(j, "migrations_active")->valueint, 1);
    cJSON_Delete(j);

    char path[64];
    snprintf(path, sizeof path, "/v1/migrations/%d/abort", id);
    expect_status(f, "POST", path, NULL, TOKEN_READ, NULL, 403, NULL);
    j = call(f, "POST", path, NULL, op, NULL, &status);
    assert_int_equal(status, 202);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "abort_requested")));
    cJSON_Delete(j);
    migrator_stop(f->a.migrator);
    f->a.migrator = NULL;
    run_to_end(f);
    snprintf(path, sizeof path, "/v1/migrations/%d", id);
    j = call(f, "GET", path, NULL, TOKEN_READ, NULL, &status);
    assert_string_equal(cJSON_GetObjectItem(j, "result")->valuestring, "rolled-back");
    assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "aborted by facility");
    cJSON_Delete(j);
    snprintf(path, sizeof path, "/v1/migrations/%d/abort", id);
    expect_status(f, "POST", path, NULL, op, NULL, 409, "has ended (rolled-back)");
    expect_status(f, "POST", "/v1/migrations/999/abort", NULL, op, NULL, 404, NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(holds_become_migrations_and_both_workloads_move),
        T(the_same_end_after_a_crash_at_any_point),
        T(the_same_end_after_a_crash_at_any_point_with_incremental_restore),
        T(incremental_restore_prestages_then_moves_only_the_delta),
        T(a_failed_prestage_rolls_back_and_drops_it),
        T(a_rollback_after_the_quiesce_hook_leaves_the_source_writable),
        T(failed_and_restarted_backups_are_retried_and_still_lose_nothing),
        T(a_failing_import_rolls_back_to_the_original_replicas),
        T(abort_through_the_store_rolls_back),
        T(a_workload_gone_from_the_inventory_releases_its_reservation),
        T(a_quiesce_command_too_long_is_refused_never_cut),
        T(a_stored_quiesce_command_too_long_rolls_back),
        T(removing_the_migrator_section_winds_migrations_down),
        T(removing_the_migrator_section_finishes_a_stopped_workload),
        T(reservation_ttl_covers_precopy_deltas_and_switchover),
        T(a_reservation_about_to_lapse_rolls_back_before_any_downtime),
        T(at_most_max_parallel_past_reserved),
        T(manual_migration_reserves_and_moves),
        T(migrations_through_the_api),
        T(placement_learns_the_rates_and_leaves_a_kept_source_alone),
        T(a_return_begun_before_the_migration_ended_is_found),
        T(a_levelling_move_names_its_new_home_in_the_import),
        T(a_peer_that_does_not_answer_is_not_asked_again_in_a_rebalance),
        T(a_group_grant_is_not_given_back_to_a_peer_gone_silent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
