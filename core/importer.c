/*
 * importer — see importer.h. The phase machine of an import at the
 * target, one step at a time over the store's row.
 *
 * Each step reads the cluster, decides, writes the decision
 * (store_import_save, over the revision it read) and only then acts. When
 * the write finds the row changed (a DELETE came in between), the step
 * reads the row again and decides again instead of acting: the drop wins.
 * Acting twice is harmless by construction: a Restore is created under
 * the name written before (Velero's 409 AlreadyExists counts as created),
 * scaling sets a count, deleting a namespace that is going already is
 * done.
 *
 * What only waits (the backup not synced yet, an API server that does not
 * answer, a namespace still terminating) is not a step: nothing is
 * written, and the log says it once per import when it starts and when
 * what it waits on changes.
 */
#include "core/importer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/util.h"
#include "lib/vec.h"
#include "store/store_import.h"
#include "store/store_mig.h"

/* Velero's --backup-sync-period when the config says nothing (hand-built
 * configs in tests), and the wait for a backup in periods: one because a
 * sync may have run just before the backup landed, three more for syncs
 * that fail or find the storage slow. */
#define SYNC_PERIOD_DEFAULT_MS 60000
#define SYNC_PERIODS 4
#define READY_WAIT_DEFAULT_MS 600000
/* The thread's round when nothing wakes it and the config gives none
 * (migrator.tick's default). */
#define TICK_MS 1000
/* Steps one import may take in one round: the longest chain without a
 * wait (found → restoring → created) is far shorter. */
#define STEPS_PER_ROUND 8
#define NOTE_MAX 400

enum step { STEP_WAIT, STEP_AGAIN };

/* What the log last said about an import that waits. */
struct imp_note {
    int64_t id;
    char text[NOTE_MAX];
};

struct imp_settings {
    const char *site;
    int retries;
    int64_t backup_wait_ms, ready_wait_ms, sync_period_ms;
};

struct imp_replica {
    enum mig_obj_kind kind;
    char name[MIG_OBJ_NAME_MAX + 1];
    int32_t count;
};

struct importer {
    struct agent *a;
    struct importer_ops ops;
    pthread_t thread;
    bool threaded;
    atomic_int stop;
    pthread_mutex_t lock; /* guards wake_now */
    pthread_cond_t wake;
    bool wake_now;
    bool idle;          /* the last round found no import in the store (ticking thread only) */

    /* owned by the ticking thread */
    struct imp_note *notes;
    size_t nnotes, cap;
    char begin_error[NOTE_MAX];
    struct mig_ns_state *ns; /* scratch, 20 KB: not on the stack */
};

int64_t importer_backup_wait_ms(const struct floe_config *cfg)
{
    int64_t period = cfg->migrator.backup_sync_period_ms > 0 ? cfg->migrator.backup_sync_period_ms
                                                             : SYNC_PERIOD_DEFAULT_MS;
    return SYNC_PERIODS * period;
}

int64_t importer_ready_wait_ms(const struct floe_config *cfg)
{
    return cfg->migrator.import_ready_timeout_ms > 0 ? cfg->migrator.import_ready_timeout_ms
                                                     : READY_WAIT_DEFAULT_MS;
}

int64_t importer_round_ms(const struct floe_config *cfg)
{
    return cfg->migrator.tick_ms > 0 ? cfg->migrator.tick_ms : TICK_MS;
}

/* ---- the log: once per change ---- */

static struct imp_note *note_of(struct importer *im, int64_t id)
{
    for (size_t i = 0; i < im->nnotes; i++)
        if (im->notes[i].id == id)
            return &im->notes[i];
    if (vec_reserve(im->notes, im->cap, im->nnotes + 1) < 0)
        return NULL;
    struct imp_note *n = &im->notes[im->nnotes++];
    n->id = id;
    n->text[0] = '\0';
    return n;
}

static void note_forget(struct importer *im, int64_t id)
{
    for (size_t i = 0; i < im->nnotes; i++)
        if (im->notes[i].id == id) {
            im->notes[i] = im->notes[--im->nnotes];
            return;
        }
}

/* Logs what import r waits on (warn: a failure it retries; info: a wait
 * that is expected) when it differs from what was logged last. */
static void __attribute__((format(printf, 4, 5)))
note(struct importer *im, const struct store_import *r, bool warn, const char *fmt, ...)
{
    char text[NOTE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct imp_note *n = note_of(im, r->id);
    if (n && strcmp(n->text, text) == 0)
        return;
    if (n)
        util_strlcpy(n->text, text, sizeof n->text);
    log_msg(warn ? LOG_LVL_WARN : LOG_LVL_INFO, "import %lld (%s from %s): %s%s", (long long)r->id,
            r->workload, r->from_site, text, warn ? "; trying again" : "");
}

/* ---- writing a step ---- */

/* Writes r (with event, and the reservation's release when release).
 * True when written: the caller may act. False when the caller must
 * return *next without acting: STEP_AGAIN after the row changed under it
 * (r is read again), STEP_WAIT when the store failed. */
static bool persist(struct importer *im, struct store_import *r, const char *event, bool release,
                    int64_t now_ms, enum step *next)
{
    char err[512], by[64], text[3 * NOTE_MAX];
    snprintf(by, sizeof by, "import %lld", (long long)r->id);
    /* Reasons come from Velero, and a cut can fall inside a character:
     * the API answers with these words. */
    util_strlcpy(text, event ? event : "", sizeof text);
    util_utf8_sanitize(text);
    int rc = store_import_save(im->a->store, r, event ? text : NULL, release ? by : NULL, now_ms,
                               err, sizeof err);
    if (rc == 0) {
        note_forget(im, r->id);
        return true;
    }
    if (rc == STORE_CONFLICT || rc == STORE_NOT_FOUND) {
        int64_t id = r->id;
        store_import_clear(r);
        rc = store_import_get(im->a->store, id, NULL, r, err, sizeof err);
        /* Gone or unreadable: r stays zeroed, with no work left. */
        *next = rc == 0 ? STEP_AGAIN : STEP_WAIT;
        return false;
    }
    note(im, r, true, "cannot record the step (%s): %s", event ? event : "", err);
    *next = STEP_WAIT;
    return false;
}

/* Ends r failed with why; the reservation goes, and the namespace with it
 * when this import made it. */
static enum step __attribute__((format(printf, 4, 5)))
fail(struct importer *im, struct store_import *r, int64_t now_ms, const char *fmt, ...)
{
    char why[2 * NOTE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* A cut can fall inside a character; the API answers with this. */
    util_utf8_sanitize(why);
    char *error = util_strdup(why);
    if (!error) {
        note(im, r, true, "out of memory");
        return STEP_WAIT;
    }
    free(r->error);
    r->error = error;
    r->phase = STORE_IMPORT_FAILED;
    r->phase_ms = r->ended_ms = now_ms;
    r->cleaning = false;
    r->cleanup = r->owns_namespace ? STORE_IMPORT_CLEANUP_PENDING : STORE_IMPORT_CLEANUP_NONE;
    enum step next;
    if (!persist(im, r, why, true, now_ms, &next))
        return next;
    log_warn("import %lld (%s from %s) failed: %s%s", (long long)r->id, r->workload, r->from_site,
             why, r->owns_namespace ? "; deleting the namespace it made" : "");
    return STEP_AGAIN;
}

/* Names the Restore of try seq into r. */
static bool name_restore(struct importer *im, const struct imp_settings *st, struct store_import *r,
                         int seq)
{
    char name[MIG_VELERO_NAME_MAX + 1];
    if (mig_velero_name(name, sizeof name, st->site, r->namespace_, r->id, seq) != 0) {
        note(im, r, true, "cannot name Restore %d", seq);
        return false;
    }
    char *copy = util_strdup(name);
    if (!copy) {
        note(im, r, true, "out of memory");
        return false;
    }
    free(r->restore);
    r->restore = copy;
    r->seq = seq;
    r->restore_started_ms = 0;
    return true;
}

/* ---- the namespace a failed try or a failed import leaves ---- */

/* Deletes r's namespace and reports whether it is gone. Never while a
 * Restore of r may still write into it: Velero would make it again. */
static bool namespace_gone(struct importer *im, struct store_import *r)
{
    char err[640];
    if (r->restore) {
        struct mig_vstatus rs;
        if (im->ops.velero_get(im->ops.ctx, MIG_RESTORE, r->restore, &rs, err, sizeof err) != 0) {
            note(im, r, true, "cannot read the Restore %s: %s", r->restore, err);
            return false;
        }
        if (rs.cls == MIG_V_RUNNING) {
            note(im, r, false,
                 "waiting for the Restore %s (%s) to end before deleting namespace %s", r->restore,
                 rs.phase[0] ? rs.phase : "New", r->namespace_);
            return false;
        }
    }
    if (im->ops.ns_read(im->ops.ctx, r->namespace_, im->ns, err, sizeof err) != 0) {
        note(im, r, true, "cannot read namespace %s: %s", r->namespace_, err);
        return false;
    }
    if (!im->ns->exists)
        return true;
    if (!im->ns->terminating &&
        im->ops.delete_namespace(im->ops.ctx, r->namespace_, err, sizeof err) != 0) {
        note(im, r, true, "cannot delete namespace %s: %s", r->namespace_, err);
        return false;
    }
    note(im, r, false, "deleting namespace %s; waiting until it is gone", r->namespace_);
    return false;
}

static enum step step_cleanup(struct importer *im, struct store_import *r, int64_t now_ms)
{
    if (!namespace_gone(im, r))
        return STEP_WAIT;
    r->cleanup = STORE_IMPORT_CLEANUP_DONE;
    char event[200];
    snprintf(event, sizeof event, "namespace %s deleted", r->namespace_);
    enum step next;
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_info("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site, event);
    return STEP_WAIT;
}

/* ---- waiting-backup ---- */

/* The migration of r's namespace from this site to r's caller whose
 * source is still kept here: the workload coming back is that one, and
 * the kept copy (older than what comes back) makes way for it. 0 with
 * *id, STORE_NOT_FOUND, or -1 with err. */
static int kept_source(struct importer *im, const struct store_import *r, int64_t *id, char *err,
                       size_t errlen)
{
    struct store_mig_move *moves = NULL;
    size_t n = 0;
    if (store_mig_moves(im->a->store, &moves, &n, err, errlen) != 0)
        return -1;
    int rc = STORE_NOT_FOUND;
    for (size_t i = n; i-- > 0 && rc != 0;)
        if (moves[i].source_kept && strcmp(moves[i].namespace_, r->namespace_) == 0 &&
            strcmp(moves[i].peer, r->from_site) == 0) {
            *id = moves[i].id;
            rc = 0;
        }
    store_mig_moves_free(moves, n);
    return rc;
}

/* The namespace exists and is not ours: the import fails, unless it is
 * the source this site kept when it moved the workload to the caller
 * (the workload comes back, a rebalance's failback): then the import
 * takes it over (owns_namespace, written first) and deletes it, and
 * restores once it is gone. The migration that kept it sees the import
 * and counts its source as deleted (mig_phase.h, MIG_WANT_RETURN). */
static enum step take_kept_source(struct importer *im, const struct imp_settings *st,
                                  struct store_import *r, int64_t now_ms)
{
    char err[512];
    if (!r->owns_namespace) {
        int64_t mig = 0;
        int rc = kept_source(im, r, &mig, err, sizeof err);
        if (rc < 0) {
            note(im, r, true, "cannot read this site's migrations: %s", err);
            return STEP_WAIT;
        }
        if (rc == STORE_NOT_FOUND)
            return fail(im, r, now_ms, "namespace %s already exists at %s", r->namespace_,
                        st->site);
        r->owns_namespace = true;
        char event[2 * NOTE_MAX];
        snprintf(event, sizeof event,
                 "namespace %s is the source %s kept of its migration %lld to %s: %s comes "
                 "back; deleting the kept copy to restore the one that comes",
                 r->namespace_, st->site, (long long)mig, r->from_site, r->workload);
        enum step next;
        if (!persist(im, r, event, false, now_ms, &next))
            return next;
        log_info("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site,
                 event);
    }
    if (im->ops.delete_namespace(im->ops.ctx, r->namespace_, err, sizeof err) != 0) {
        note(im, r, true, "cannot delete the kept namespace %s: %s", r->namespace_, err);
        return STEP_WAIT;
    }
    note(im, r, false, "deleting the kept namespace %s; waiting until it is gone", r->namespace_);
    return STEP_WAIT;
}

/* The namespace as an import of r may find it; STEP_AGAIN when it may go on. */
static enum step namespace_ready_for_restore(struct importer *im, const struct imp_settings *st,
                                             struct store_import *r, bool over, int64_t now_ms)
{
    const struct mig_ns_state *ns = im->ns;
    if (r->incremental) {
        if (!ns->exists || ns->terminating)
            return fail(im, r, now_ms,
                        "namespace %s was not prestaged at %s (an incremental import restores "
                        "into the namespace a prestage import of reservation %s left)",
                        r->namespace_, st->site, r->reservation);
        char err[512];
        int64_t pre = 0;
        int rc = store_import_find_prestage(im->a->store, r->reservation, r->namespace_, &pre, err,
                                            sizeof err);
        if (rc < 0) {
            note(im, r, true, "cannot look up the prestage import: %s", err);
            return STEP_WAIT;
        }
        if (rc == STORE_NOT_FOUND)
            return fail(im, r, now_ms,
                        "namespace %s at %s was not made by a prestage import of reservation %s: "
                        "not restoring into it",
                        r->namespace_, st->site, r->reservation);
        return STEP_AGAIN;
    }
    if (ns->exists && ns->terminating) {
        if (over)
            return fail(im, r, now_ms, "namespace %s at %s was still being deleted after %lld s",
                        r->namespace_, st->site, (long long)(st->backup_wait_ms / 1000));
        note(im, r, false, "namespace %s is still being deleted here; waiting until it is gone",
             r->namespace_);
        return STEP_WAIT;
    }
    if (ns->exists)
        return take_kept_source(im, st, r, now_ms);
    return STEP_AGAIN;
}

static enum step step_waiting(struct importer *im, const struct imp_settings *st,
                              struct store_import *r, int64_t now_ms)
{
    char err[640];
    bool over = now_ms - r->phase_ms > st->backup_wait_ms;
    long long wait_s = (long long)(st->backup_wait_ms / 1000);
    struct mig_vstatus b;
    if (im->ops.velero_get(im->ops.ctx, MIG_BACKUP, r->backup, &b, err, sizeof err) != 0) {
        if (over)
            return fail(im, r, now_ms, "the backup %s could not be read at %s within %lld s: %s",
                        r->backup, st->site, wait_s, err);
        note(im, r, true, "cannot read the backup %s: %s", r->backup, err);
        return STEP_WAIT;
    }
    switch (b.cls) {
    case MIG_V_FAILED:
        return fail(im, r, now_ms, "the source's backup %s failed: %s", r->backup,
                    b.reason[0] ? b.reason : b.phase);
    case MIG_V_DELETING:
        return fail(im, r, now_ms, "the backup %s is being deleted at %s", r->backup, st->site);
    case MIG_V_GONE:
    case MIG_V_RUNNING:
        if (over)
            return fail(im, r, now_ms,
                        "the backup %s did not appear finished at %s within %lld s (Velero shows "
                        "a peer's backup after its storage sync, every %lld s here)",
                        r->backup, st->site, wait_s, (long long)(st->sync_period_ms / 1000));
        if (b.cls == MIG_V_GONE)
            note(im, r, false, "waiting for the backup %s to appear (Velero's storage sync)",
                 r->backup);
        else
            note(im, r, false, "the backup %s is %s here; waiting until it is finished", r->backup,
                 b.phase[0] ? b.phase : "New");
        return STEP_WAIT;
    case MIG_V_COMPLETED:
    case MIG_V_PARTIAL:
        break;
    }
    if (im->ops.ns_read(im->ops.ctx, r->namespace_, im->ns, err, sizeof err) != 0) {
        if (over)
            return fail(im, r, now_ms, "namespace %s could not be read at %s within %lld s: %s",
                        r->namespace_, st->site, wait_s, err);
        note(im, r, true, "cannot read namespace %s: %s", r->namespace_, err);
        return STEP_WAIT;
    }
    enum step next = namespace_ready_for_restore(im, st, r, over, now_ms);
    if (next != STEP_AGAIN || r->phase != STORE_IMPORT_WAITING_BACKUP)
        return next;
    if (!name_restore(im, st, r, 1))
        return STEP_WAIT;
    r->phase = STORE_IMPORT_RESTORING;
    r->phase_ms = now_ms;
    r->owns_namespace = true;
    r->attempts = 0;
    char event[2 * NOTE_MAX];
    if (b.cls == MIG_V_PARTIAL) {
        r->partial = true;
        snprintf(event, sizeof event,
                 "backup %s found PartiallyFailed (%s): accepted only if the workload becomes "
                 "ready; restoring as %s",
                 r->backup, b.reason, r->restore);
    } else {
        snprintf(event, sizeof event, "backup %s found; restoring as %s", r->backup, r->restore);
    }
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_info("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site, event);
    return STEP_AGAIN;
}

/* ---- restoring ---- */

static enum step restored(struct importer *im, struct store_import *r, const struct mig_vstatus *rs,
                          int64_t now_ms)
{
    char err[640];
    double bytes = NAN;
    if (im->ops.velero_bytes(im->ops.ctx, MIG_RESTORE, r->restore, &bytes, err, sizeof err) != 0) {
        log_warn("import %lld (%s from %s): the bytes of Restore %s are unknown: %s",
                 (long long)r->id, r->workload, r->from_site, r->restore, err);
        bytes = NAN;
    }
    /* Velero's own clock when it gives both ends; ours otherwise. */
    int64_t took_ms = rs->started_ms > 0 && rs->completed_ms >= rs->started_ms
                          ? rs->completed_ms - rs->started_ms
                          : now_ms - r->restore_started_ms;
    r->restore_s = (double)took_ms / 1000.0;
    r->restored_bytes = bytes;
    r->phase = STORE_IMPORT_STARTING;
    r->phase_ms = now_ms;
    char event[2 * NOTE_MAX];
    if (rs->cls == MIG_V_PARTIAL) {
        r->partial = true;
        snprintf(event, sizeof event,
                 "Restore %s PartiallyFailed after %.0f s (%s): accepted only if the workload "
                 "becomes ready",
                 r->restore, r->restore_s, rs->reason);
    } else {
        snprintf(event, sizeof event, "Restore %s completed in %.0f s", r->restore, r->restore_s);
    }
    enum step next;
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_info("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site, event);
    return STEP_AGAIN;
}

static enum step restore_failed(struct importer *im, const struct imp_settings *st,
                                struct store_import *r, const struct mig_vstatus *rs,
                                int64_t now_ms)
{
    char why[2 * NOTE_MAX];
    if (rs->cls == MIG_V_GONE)
        snprintf(why, sizeof why, "the Restore %s vanished", r->restore);
    else if (rs->cls == MIG_V_DELETING)
        snprintf(why, sizeof why, "the Restore %s is being deleted", r->restore);
    else if (mig_velero_restart_failure(rs->reason))
        snprintf(why, sizeof why, "Velero restarted during the Restore %s, which it marked Failed",
                 r->restore);
    else
        snprintf(why, sizeof why, "the Restore %s failed: %s", r->restore,
                 rs->reason[0] ? rs->reason : rs->phase);
    int tries = 1 + st->retries;
    if (r->attempts >= tries)
        return fail(im, r, now_ms, "%s (try %d of %d)", why, r->attempts, tries);
    char event[3 * NOTE_MAX];
    if (r->incremental) {
        /* Into the prestaged namespace again: deleting it would lose
         * what the incremental restore builds on. */
        if (!name_restore(im, st, r, r->seq + 1))
            return STEP_WAIT;
        snprintf(event, sizeof event, "%s; trying again as %s", why, r->restore);
    } else {
        r->cleaning = true;
        snprintf(event, sizeof event,
                 "%s; deleting the half-restored namespace %s before trying again", why,
                 r->namespace_);
    }
    enum step next;
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_warn("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site, event);
    return STEP_AGAIN;
}

/* The failed try's namespace is being deleted: once it is gone, the next
 * try gets its name. */
static enum step step_retry(struct importer *im, const struct imp_settings *st,
                            struct store_import *r, int64_t now_ms)
{
    if (!namespace_gone(im, r))
        return STEP_WAIT;
    r->cleaning = false;
    if (!name_restore(im, st, r, r->seq + 1))
        return STEP_WAIT;
    char event[2 * NOTE_MAX];
    snprintf(event, sizeof event, "namespace %s is gone; trying again as %s", r->namespace_,
             r->restore);
    enum step next;
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_info("import %lld (%s from %s): %s", (long long)r->id, r->workload, r->from_site, event);
    return STEP_AGAIN;
}

static enum step step_restoring(struct importer *im, const struct imp_settings *st,
                                struct store_import *r, int64_t now_ms)
{
    if (r->cleaning)
        return step_retry(im, st, r, now_ms);
    char err[640];
    if (!r->restore_started_ms) {
        struct mig_restore_spec spec = {.name = r->restore,
                                        .backup_name = r->backup,
                                        .namespace_ = r->namespace_,
                                        .migration_id = r->id,
                                        .incremental = r->incremental};
        if (im->ops.create_restore(im->ops.ctx, &spec, err, sizeof err) != 0) {
            note(im, r, true, "cannot create the Restore %s: %s", r->restore, err);
            return STEP_WAIT;
        }
        r->restore_started_ms = now_ms;
        r->attempts++;
        char event[200];
        snprintf(event, sizeof event, "Restore %s created (try %d of %d)", r->restore, r->attempts,
                 1 + st->retries);
        enum step next;
        if (!persist(im, r, event, false, now_ms, &next))
            return next;
        return STEP_AGAIN;
    }
    struct mig_vstatus rs;
    if (im->ops.velero_get(im->ops.ctx, MIG_RESTORE, r->restore, &rs, err, sizeof err) != 0) {
        note(im, r, true, "cannot read the Restore %s: %s", r->restore, err);
        return STEP_WAIT;
    }
    switch (rs.cls) {
    case MIG_V_RUNNING:
        note(im, r, false, "the Restore %s is %s", r->restore, rs.phase[0] ? rs.phase : "New");
        return STEP_WAIT;
    case MIG_V_COMPLETED:
    case MIG_V_PARTIAL:
        return restored(im, r, &rs, now_ms);
    case MIG_V_FAILED:
    case MIG_V_DELETING:
    case MIG_V_GONE:
        break;
    }
    return restore_failed(im, st, r, &rs, now_ms);
}

/* ---- starting ---- */

/* Reads r's replicas (checked when the import was asked for). */
static int parse_replicas(const char *text, struct imp_replica *out, size_t max, size_t *n,
                          char *err, size_t errlen)
{
    *n = 0;
    cJSON *root = cJSON_Parse(text ? text : "");
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return errf(err, errlen, "replicas: not a JSON object");
    }
    int rc = 0;
    for (const cJSON *m = root->child; m; m = m->next) {
        const char *slash = m->string ? strchr(m->string, '/') : NULL;
        if (*n == max || !slash || !cJSON_IsNumber(m)) {
            rc = errf(err, errlen, "replicas: entry %zu unusable", *n);
            break;
        }
        struct imp_replica *rp = &out[(*n)++];
        size_t klen = (size_t)(slash - m->string);
        if (klen == strlen("deployment") && strncmp(m->string, "deployment", klen) == 0)
            rp->kind = MIG_DEPLOYMENT;
        else if (klen == strlen("statefulset") && strncmp(m->string, "statefulset", klen) == 0)
            rp->kind = MIG_STATEFULSET;
        else {
            rc = errf(err, errlen, "replicas: %s: unknown kind", m->string);
            break;
        }
        util_strlcpy(rp->name, slash + 1, sizeof rp->name);
        rp->count = (int32_t)m->valuedouble;
    }
    cJSON_Delete(root);
    return rc;
}

static const struct mig_obj *find_obj(const struct mig_ns_state *ns, enum mig_obj_kind kind,
                                      const char *name)
{
    for (size_t i = 0; i < ns->nobjs; i++)
        if (ns->objs[i].kind == kind && strcmp(ns->objs[i].name, name) == 0)
            return &ns->objs[i];
    return NULL;
}

static const struct imp_replica *find_replica(const struct imp_replica *rp, size_t n,
                                              const struct mig_obj *o)
{
    for (size_t i = 0; i < n; i++)
        if (rp[i].kind == o->kind && strcmp(rp[i].name, o->name) == 0)
            return &rp[i];
    return NULL;
}

/* The count object o should have: its entry in replicas, 0 for every
 * object of a prestage import, or -1: leave it as restored. */
static int32_t wanted(const struct store_import *r, const struct imp_replica *rp, size_t n,
                      const struct mig_obj *o)
{
    if (r->prestage)
        return 0;
    const struct imp_replica *e = find_replica(rp, n, o);
    return e ? e->count : -1;
}

/* "deployment/web 1 of 3 ready" for the first object not there yet, into
 * out; true when every object is (scaled down, for a prestage import). */
static bool all_there(const struct store_import *r, const struct mig_ns_state *ns, char *out,
                      size_t n)
{
    for (size_t i = 0; i < ns->nobjs; i++) {
        const struct mig_obj *o = &ns->objs[i];
        if (r->prestage ? mig_obj_scaled_down(o) : mig_obj_ready(o))
            continue;
        if (r->prestage)
            snprintf(out, n, "%s/%s still has %d pods", mig_obj_kind_key(o->kind), o->name,
                     (int)o->status_replicas);
        else
            snprintf(out, n, "%s/%s %d of %d ready", mig_obj_kind_key(o->kind), o->name,
                     (int)(o->kind == MIG_DEPLOYMENT ? o->available_replicas : o->ready_replicas),
                     (int)o->replicas);
        return false;
    }
    return true;
}

static enum step became_ready(struct importer *im, struct store_import *r, int64_t now_ms)
{
    r->phase = STORE_IMPORT_READY;
    r->phase_ms = r->ready_ms = r->ended_ms = now_ms;
    char event[2 * NOTE_MAX];
    snprintf(event, sizeof event, "%s: %zu objects %s%s", r->prestage ? "prestaged" : "ready",
             im->ns->nobjs, r->prestage ? "at 0 replicas" : "ready at their counts",
             r->partial ? " (accepted although Velero said PartiallyFailed: the workload is ready)"
                        : "");
    enum step next;
    if (!persist(im, r, event, false, now_ms, &next))
        return next;
    log_info("import %lld (%s from %s): %s; restore took %.0f s", (long long)r->id, r->workload,
             r->from_site, event, r->restore_s);
    return STEP_WAIT;
}

static enum step step_starting(struct importer *im, const struct imp_settings *st,
                               struct store_import *r, int64_t now_ms)
{
    char err[640];
    struct imp_replica rp[MIG_MAX_OBJECTS];
    size_t nrp = 0;
    if (parse_replicas(r->replicas, rp, MIG_MAX_OBJECTS, &nrp, err, sizeof err) != 0)
        return fail(im, r, now_ms, "%s", err);
    bool over = now_ms - r->phase_ms > st->ready_wait_ms;
    long long wait_s = (long long)(st->ready_wait_ms / 1000);
    if (im->ops.ns_read(im->ops.ctx, r->namespace_, im->ns, err, sizeof err) != 0) {
        if (over)
            return fail(im, r, now_ms, "namespace %s could not be read at %s within %lld s: %s",
                        r->namespace_, st->site, wait_s, err);
        note(im, r, true, "cannot read namespace %s: %s", r->namespace_, err);
        return STEP_WAIT;
    }
    const struct mig_ns_state *ns = im->ns;
    if (!ns->exists || ns->terminating)
        return fail(im, r, now_ms, "namespace %s %s at %s while the workload was starting",
                    r->namespace_, ns->exists ? "began terminating" : "vanished", st->site);
    for (size_t i = 0; i < nrp; i++)
        if (!find_obj(ns, rp[i].kind, rp[i].name))
            return fail(im, r, now_ms,
                        "%s/%s is named in replicas but the restore did not bring it back",
                        mig_obj_kind_key(rp[i].kind), rp[i].name);
    bool scaled = false;
    for (size_t i = 0; i < ns->nobjs; i++) {
        const struct mig_obj *o = &ns->objs[i];
        int32_t want = wanted(r, rp, nrp, o);
        if (want < 0 || o->replicas == want)
            continue;
        scaled = true;
        if (im->ops.scale(im->ops.ctx, r->namespace_, o->kind, o->name, want, err, sizeof err) != 0)
            note(im, r, true, "cannot scale %s/%s to %d: %s", mig_obj_kind_key(o->kind), o->name,
                 (int)want, err);
    }
    /* What was read before a scale says nothing about after it. */
    char missing[300] = "";
    if (!scaled && all_there(r, ns, missing, sizeof missing))
        return became_ready(im, r, now_ms);
    if (over) {
        if (r->partial)
            return fail(im, r, now_ms,
                        "Velero said PartiallyFailed and the workload did not become ready at %s "
                        "within %lld s (%s)",
                        st->site, wait_s, scaled ? "still scaling" : missing);
        return fail(im, r, now_ms, "the workload did not become %s at %s within %lld s (%s)",
                    r->prestage ? "scaled down" : "ready", st->site, wait_s,
                    scaled ? "still scaling" : missing);
    }
    if (!scaled)
        note(im, r, false, "waiting: %s", missing);
    return STEP_WAIT;
}

/* ---- a round ---- */

static enum step step(struct importer *im, const struct imp_settings *st, struct store_import *r,
                      int64_t now_ms)
{
    if (r->cleanup == STORE_IMPORT_CLEANUP_PENDING)
        return r->owns_namespace ? step_cleanup(im, r, now_ms) : STEP_WAIT;
    switch (r->phase) {
    case STORE_IMPORT_WAITING_BACKUP:
        return step_waiting(im, st, r, now_ms);
    case STORE_IMPORT_RESTORING:
        return step_restoring(im, st, r, now_ms);
    case STORE_IMPORT_STARTING:
        return step_starting(im, st, r, now_ms);
    case STORE_IMPORT_READY:
    case STORE_IMPORT_FAILED:
        break;
    }
    return STEP_WAIT;
}

void importer_tick(struct importer *im, int64_t now_ms)
{
    char err[640];
    struct store_import *rows = NULL;
    size_t n = 0;
    im->idle = false;
    if (store_import_list(im->a->store, true, NULL, 0, &rows, &n, err, sizeof err) != 0) {
        log_err("imports: cannot read the store: %s", err);
        return;
    }
    if (n == 0) {
        im->nnotes = 0;
        im->idle = true;
        return;
    }
    uint64_t generation;
    struct floe_config *cfg = agent_config_get_gen(im->a, &generation);
    if (im->ops.begin(im->ops.ctx, cfg, generation, err, sizeof err) != 0) {
        if (strcmp(err, im->begin_error) != 0)
            log_err("imports: %zu waiting: %s", n, err);
        util_strlcpy(im->begin_error, err, sizeof im->begin_error);
        goto out;
    }
    im->begin_error[0] = '\0';
    struct imp_settings st = {.site = cfg->site.name ? cfg->site.name : "this site",
                              .retries = cfg->migrator.retries,
                              .backup_wait_ms = importer_backup_wait_ms(cfg),
                              .ready_wait_ms = importer_ready_wait_ms(cfg),
                              .sync_period_ms = cfg->migrator.backup_sync_period_ms > 0
                                                    ? cfg->migrator.backup_sync_period_ms
                                                    : SYNC_PERIOD_DEFAULT_MS};
    for (size_t i = 0; i < n && !atomic_load(&im->stop); i++)
        for (int k = 0; k < STEPS_PER_ROUND; k++)
            if (step(im, &st, &rows[i], now_ms) != STEP_AGAIN)
                break;
out:
    config_unref(cfg);
    store_import_rows_free(rows, n);
}

/* ---- the thread ---- */

static void *importer_main(void *arg)
{
    struct importer *im = arg;
    while (!atomic_load(&im->stop)) {
        importer_tick(im, util_now_ms());
        struct floe_config *cfg = agent_config_get(im->a);
        int64_t due = util_mono_ms() + importer_round_ms(cfg);
        config_unref(cfg);
        struct timespec until = util_mono_timespec(due);
        pthread_mutex_lock(&im->lock);
        /* No import in the store: none starts before a peer asks for one
         * (POST /v1/imports wakes this thread), so there is no round to
         * run until then. */
        while (!im->wake_now && !atomic_load(&im->stop)) {
            if (im->idle)
                pthread_cond_wait(&im->wake, &im->lock);
            else if (pthread_cond_timedwait(&im->wake, &im->lock, &until) == ETIMEDOUT)
                break;
        }
        im->wake_now = false;
        pthread_mutex_unlock(&im->lock);
    }
    return NULL;
}

struct importer *importer_new(struct agent *a, const struct importer_ops *ops)
{
    struct importer *im = calloc(1, sizeof *im);
    struct mig_ns_state *ns = calloc(1, sizeof *ns);
    if (!im || !ns) {
        free(im);
        free(ns);
        if (ops->free)
            ops->free(ops->ctx);
        return NULL;
    }
    im->a = a;
    im->ops = *ops;
    im->ns = ns;
    atomic_init(&im->stop, 0);
    pthread_mutex_init(&im->lock, NULL);
    util_cond_init_mono(&im->wake);
    return im;
}

struct importer *importer_start(struct agent *a, const struct importer_ops *ops, char *err,
                                size_t errlen)
{
    struct importer *im = importer_new(a, ops);
    if (!im) {
        errf(err, errlen, "imports: out of memory");
        return NULL;
    }
    if (pthread_create(&im->thread, NULL, importer_main, im) != 0) {
        errf(err, errlen, "imports: cannot start the importer thread");
        importer_stop(im);
        return NULL;
    }
    im->threaded = true;
    return im;
}

void importer_stop(struct importer *im)
{
    if (!im)
        return;
    if (im->threaded) {
        pthread_mutex_lock(&im->lock);
        atomic_store(&im->stop, 1);
        pthread_cond_signal(&im->wake);
        pthread_mutex_unlock(&im->lock);
        pthread_join(im->thread, NULL);
    }
    if (im->ops.free)
        im->ops.free(im->ops.ctx);
    pthread_cond_destroy(&im->wake);
    pthread_mutex_destroy(&im->lock);
    free(im->notes);
    free(im->ns);
    free(im);
}

void importer_wake(struct importer *im)
{
    if (!im)
        return;
    pthread_mutex_lock(&im->lock);
    im->wake_now = true;
    pthread_cond_signal(&im->wake);
    pthread_mutex_unlock(&im->lock);
}
