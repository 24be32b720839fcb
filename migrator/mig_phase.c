/*
 * mig_phase — see mig_phase.h. Each phase has a function that looks at
 * the state and the observations and either waits, moves on (a
 * transition: new phase or step, an event, maybe an action) or gives up
 * (retry or rollback). Everything goes through next; m is never written.
 */
#include "migrator/mig_phase.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

static const char *const phase_names[MIG_PHASES] = {
    "reserved", "precopy",      "delta", "switchover",  "restoring",
    "cutover",  "rolling-back", "done",  "rolled-back",
};

const char *mig_phase_name(enum mig_phase p)
{
    return (size_t)p < MIG_PHASES ? phase_names[p] : "reserved";
}

int mig_phase_parse(const char *s)
{
    for (size_t i = 0; s && i < MIG_PHASES; i++)
        if (strcmp(s, phase_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *mig_act_name(enum mig_act_kind k)
{
    static const char *const names[] = {"none", "backup",  "scale",   "import",
                                        "drop", "traffic", "release", "delete-namespace"};
    return (size_t)k < ARRAY_LEN(names) ? names[k] : "none";
}

void mig_format_s(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
        return;
    }
    long long t = llround(s);
    if (t >= 3600)
        snprintf(buf, n, "%lldh%lldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(buf, n, "%lldm%llds", t / 60, t % 60);
    else
        snprintf(buf, n, "%llds", t);
}

void mig_init(struct store_mig *m, int64_t now_ms)
{
    memset(m, 0, sizeof *m);
    util_strlcpy(m->phase, mig_phase_name(MIG_PH_RESERVED), sizeof m->phase);
    m->created_ms = m->updated_ms = m->phase_started_ms = m->step_started_ms = now_ms;
    m->downtime_s = m->estimated_downtime_s = m->last_delta_gb = m->restore_s = NAN;
}

static enum mig_phase phase_of(const struct store_mig *m)
{
    int p = mig_phase_parse(m->phase);
    return p < 0 ? MIG_PH_RESERVED : (enum mig_phase)p;
}

#define PRESTAGE_REQUESTED "requested"
#define PRESTAGE_READY "ready"
#define PRESTAGE_DROPPED "dropped"

/* A prestage import asked for (or to ask for) and not ready yet. */
static bool prestage_pending(const struct store_mig *m)
{
    return strcmp(m->prestage_state, PRESTAGE_REQUESTED) == 0;
}

/* The target holds the initial backup, stopped: the final one goes in place. */
static bool prestage_ready(const struct store_mig *m)
{
    return strcmp(m->prestage_state, PRESTAGE_READY) == 0;
}

bool mig_holds_slot(const struct store_mig *m)
{
    int p = mig_phase_parse(m->phase);
    return p >= MIG_PH_PRECOPY && p <= MIG_PH_CUTOVER && !m->result[0];
}

/* ---- small helpers ---- */

static void eventf(struct mig_effects *fx, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void eventf(struct mig_effects *fx, bool warn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fx->event, sizeof fx->event, fmt, ap);
    va_end(ap);
    fx->warn = warn;
}

/* A problem that does not change the plan: recorded once per new text. */
static void problem(const struct store_mig *m, struct store_mig *next, struct mig_effects *fx,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(const struct store_mig *m, struct store_mig *next, struct mig_effects *fx,
                    const char *fmt, ...)
{
    char text[STORE_MIG_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    util_strlcpy(next->error, text, sizeof next->error);
    if (strcmp(m->error, next->error) != 0 && !fx->event[0])
        eventf(fx, true, "%s", next->error);
}

static double gb_of(double bytes)
{
    return bytes / 1e9;
}

static double minutes_s(double gb, double gb_per_min)
{
    return gb > 0 && gb_per_min > 0 && isfinite(gb) && isfinite(gb_per_min) ? gb / gb_per_min * 60
                                                                            : 0;
}

static double expected_delta_gb(const struct store_mig *m, const struct mig_params *p)
{
    if (isfinite(m->last_delta_gb) && m->last_delta_gb >= 0)
        return m->last_delta_gb;
    double d = isfinite(p->rates.delta_gb) ? p->rates.delta_gb : 1;
    return m->data_gb < d ? m->data_gb : d;
}

static double elapsed_s(int64_t since_ms, int64_t now_ms)
{
    return since_ms > 0 && now_ms > since_ms ? (double)(now_ms - since_ms) / 1000.0 : 0;
}

/* Adds the time spent in the phase being left to its total. */
static void account_phase(struct store_mig *next, int64_t now_ms)
{
    double s = elapsed_s(next->phase_started_ms, now_ms);
    switch (phase_of(next)) {
    case MIG_PH_PRECOPY:
        next->precopy_s += s;
        break;
    case MIG_PH_DELTA:
        next->delta_s += s;
        break;
    case MIG_PH_SWITCHOVER:
        next->switchover_s += s;
        break;
    case MIG_PH_RESTORING:
        next->restoring_s += s;
        break;
    case MIG_PH_CUTOVER:
        next->cutover_s += s;
        break;
    default:
        break;
    }
}

static void set_step(struct store_mig *next, int step, int64_t now_ms)
{
    next->step = step;
    next->step_started_ms = now_ms;
    next->retry_at_ms = 0;
    next->error[0] = '\0';
}

static void set_phase(struct store_mig *next, enum mig_phase ph, int step, int64_t now_ms)
{
    account_phase(next, now_ms);
    util_strlcpy(next->phase, mig_phase_name(ph), sizeof next->phase);
    next->phase_started_ms = now_ms;
    set_step(next, step, now_ms);
}

static void retry_later(struct store_mig *next, int64_t now_ms)
{
    next->retry_at_ms = now_ms + MIG_RETRY_MS;
}

/* "deployment/web=3, statefulset/db=1" */
static void replicas_text(const struct store_mig *m, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    if (m->nreplicas == 0) {
        snprintf(buf, n, "no Deployments or StatefulSets");
        return;
    }
    for (size_t i = 0; i < m->nreplicas && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s=%d", i ? ", " : "", m->replicas[i].key,
                         (int)m->replicas[i].replicas);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* key "deployment/web" of an object */
static void obj_key(const struct mig_obj *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", mig_obj_kind_key(o->kind), o->name);
}

static const struct mig_obj *find_obj(const struct mig_ns_state *ns, const char *key)
{
    char k[STORE_MIG_REPLICA_KEY_MAX];
    for (size_t i = 0; i < ns->nobjs; i++) {
        obj_key(&ns->objs[i], k, sizeof k);
        if (strcmp(k, key) == 0)
            return &ns->objs[i];
    }
    return NULL;
}

static void record_replicas(struct store_mig *next, const struct mig_ns_state *ns)
{
    next->nreplicas = 0;
    for (size_t i = 0; i < ns->nobjs && next->nreplicas < STORE_MIG_MAX_REPLICAS; i++) {
        struct store_mig_replica *r = &next->replicas[next->nreplicas++];
        obj_key(&ns->objs[i], r->key, sizeof r->key);
        r->replicas = ns->objs[i].replicas;
    }
    next->replicas_recorded = true;
}

static void add_scale(struct mig_action *act, const struct mig_obj *o, int32_t replicas)
{
    if (act->nscale >= MIG_MAX_OBJECTS)
        return;
    struct mig_scale_item *s = &act->scale[act->nscale++];
    s->kind = o->kind;
    util_strlcpy(s->name, o->name, sizeof s->name);
    s->replicas = replicas;
    act->kind = MIG_ACT_SCALE;
}

/* ---- budgets ---- */

static double budget(double expected_s)
{
    return MIG_BUDGET_FACTOR * (isfinite(expected_s) && expected_s > 0 ? expected_s : 0) +
           MIG_FLOOR_S;
}

/* The expected time of the backup in progress. */
static double backup_expected_s(const struct store_mig *m, const struct mig_params *p)
{
    enum mig_phase ph = phase_of(m);
    if (m->stateless)
        return 0; /* resources only */
    if (ph == MIG_PH_PRECOPY || (ph == MIG_PH_SWITCHOVER && m->step == MIG_SW_MOVER_BACKUP))
        return minutes_s(m->data_gb, p->rates.initial_gb_per_min);
    return minutes_s(expected_delta_gb(m, p), p->rates.delta_gb_per_min);
}

/* An import of the whole data (full: also when a prestage import is
 * ready, for the prestage import itself). */
static double import_expected_s(const struct store_mig *m, const struct mig_params *p, bool full)
{
    double sync_s = (double)(p->storage_sync_ms > 0 ? p->storage_sync_ms : 0) / 1000.0;
    if (m->stateless)
        return sync_s;
    double gb = !full && prestage_ready(m) ? expected_delta_gb(m, p) : m->data_gb;
    return sync_s + minutes_s(gb, p->rates.restore_gb_per_min);
}

static double restore_expected_s(const struct store_mig *m, const struct mig_params *p)
{
    return import_expected_s(m, p, false);
}

/* The wait for the prestage import: a full import's. */
static double prestage_budget_s(const struct store_mig *m, const struct mig_params *p)
{
    return budget(import_expected_s(m, p, true));
}

static bool backup_running(const struct store_mig *m)
{
    return m->backup[0] && strcmp(m->backup, m->last_backup) != 0;
}

/* Whether m waits for its backup (a rollback leaves one running behind). */
static bool watching_backup(const struct store_mig *m)
{
    enum mig_phase ph = phase_of(m);
    return backup_running(m) && (ph == MIG_PH_PRECOPY || ph == MIG_PH_DELTA ||
                                 (ph == MIG_PH_SWITCHOVER &&
                                  (m->step == MIG_SW_BACKUP || m->step == MIG_SW_MOVER_BACKUP)));
}

double mig_budget_s(const struct store_mig *m, const struct mig_params *p)
{
    enum mig_phase ph = phase_of(m);
    if (ph == MIG_PH_DELTA && m->step == MIG_DL_PRESTAGE && !m->result[0])
        return prestage_budget_s(m, p);
    if (m->result[0] || ph == MIG_PH_RESERVED || (ph == MIG_PH_DELTA && !backup_running(m)))
        return INFINITY; /* waiting for a slot or the next delta: not a problem */
    if (watching_backup(m))
        return budget(backup_expected_s(m, p));
    if (ph == MIG_PH_RESTORING)
        return budget(restore_expected_s(m, p));
    if (ph == MIG_PH_ROLLING_BACK &&
        (m->step == MIG_RB_DROP || m->step == MIG_RB_DROP_PRESTAGE || m->step == MIG_RB_RELEASE))
        return INFINITY; /* the peer's cleanup: tried until it works */
    if (ph == MIG_PH_CUTOVER && m->traffic_switched_ms)
        return INFINITY; /* past the point of no return: tried until it works */
    return budget(0);
}

/* Seconds since the wait began (the backup's start for a backup). */
static double waited_s(const struct store_mig *m, int64_t now_ms)
{
    int64_t since = watching_backup(m) ? m->backup_started_ms : m->step_started_ms;
    if (phase_of(m) == MIG_PH_DELTA && m->step == MIG_DL_PRESTAGE)
        since = m->prestage_started_ms;
    return elapsed_s(since, now_ms);
}

double mig_estimate_downtime_s(const struct store_mig *m, const struct mig_params *p)
{
    if (m->stateless)
        return 0;
    struct pl_rates r = p->rates;
    r.delta_gb = expected_delta_gb(m, p);
    r.incremental_restore = prestage_ready(m);
    struct pl_estimate est;
    char err[128];
    if (pl_estimate(&r, m->data_gb, false, &est, err, sizeof err) != 0)
        return NAN;
    return est.downtime_s;
}

/* ---- rollback ---- */

static bool rb_applies(const struct store_mig *m, const struct mig_params *p, int step)
{
    switch (step) {
    case MIG_RB_TRAFFIC:
        return strcmp(m->rollback_from, mig_phase_name(MIG_PH_CUTOVER)) == 0 && m->hostname[0] &&
               p->traffic_switches;
    case MIG_RB_SCALE:
        return (m->scaled || m->quiesced) && m->replicas_recorded;
    case MIG_RB_DROP:
        return m->import_id[0] || m->import_requested;
    case MIG_RB_DROP_PRESTAGE:
        return m->prestage_id[0] || prestage_pending(m);
    case MIG_RB_RELEASE:
        return m->released_ms == 0;
    default:
        return false;
    }
}

static void rolled_back(struct store_mig *next, int64_t now_ms, struct mig_effects *fx);

/* The rollback's steps in the order they are taken: the final import
 * goes before the prestage import it was restored into. */
static const int rb_order[] = {MIG_RB_TRAFFIC, MIG_RB_SCALE, MIG_RB_DROP, MIG_RB_DROP_PRESTAGE,
                               MIG_RB_RELEASE};

static size_t rb_index(int step)
{
    for (size_t i = 0; i < ARRAY_LEN(rb_order); i++)
        if (rb_order[i] == step)
            return i;
    return ARRAY_LEN(rb_order); /* not a rollback step: nothing left */
}

/* Moves to the first rollback step from the one at index i on that
 * applies, or ends the rollback. */
static void rb_from(struct store_mig *next, const struct mig_params *p, size_t i, int64_t now_ms,
                    struct mig_effects *fx)
{
    for (; i < ARRAY_LEN(rb_order); i++)
        if (rb_applies(next, p, rb_order[i])) {
            set_step(next, rb_order[i], now_ms);
            return;
        }
    rolled_back(next, now_ms, fx);
}

/* The first step that applies from step on. */
static void rb_goto(struct store_mig *next, const struct mig_params *p, int step, int64_t now_ms,
                    struct mig_effects *fx)
{
    rb_from(next, p, rb_index(step), now_ms, fx);
}

/* The first step that applies after step. */
static void rb_after(struct store_mig *next, const struct mig_params *p, int step, int64_t now_ms,
                     struct mig_effects *fx)
{
    rb_from(next, p, rb_index(step) + 1, now_ms, fx);
}

static void rollback(struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                     struct mig_effects *fx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void rollback(struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                     struct mig_effects *fx, const char *fmt, ...)
{
    char reason[STORE_MIG_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    util_strlcpy(next->rollback_from, next->phase, sizeof next->rollback_from);
    set_phase(next, MIG_PH_ROLLING_BACK, MIG_RB_TRAFFIC, now_ms);
    util_strlcpy(next->reason, reason, sizeof next->reason);
    eventf(fx, true, "rolling back: %s", reason);
    char ev[sizeof fx->event];
    util_strlcpy(ev, fx->event, sizeof ev);
    rb_goto(next, p, MIG_RB_TRAFFIC, now_ms, fx);
    if (strcmp(ev, fx->event) != 0 && fx->event[0]) {
        /* Nothing to undo: both in one event. */
        char both[sizeof fx->event];
        snprintf(both, sizeof both, "%.250s; %.250s", ev, fx->event);
        util_strlcpy(fx->event, both, sizeof fx->event);
    }
}

static void rolled_back(struct store_mig *next, int64_t now_ms, struct mig_effects *fx)
{
    set_phase(next, MIG_PH_ROLLED_BACK, 0, now_ms);
    util_strlcpy(next->error, next->reason, sizeof next->error);
    util_strlcpy(next->result, mig_phase_name(MIG_PH_ROLLED_BACK), sizeof next->result);
    next->ended_ms = now_ms;
    if (!next->released_ms) {
        next->released_ms = now_ms;
        fx->release_hold = true;
    }
    eventf(fx, true, "rolled back: %s", next->reason[0] ? next->reason : "no reason recorded");
}

/* ---- backups ---- */

static void start_backup(struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                         struct mig_action *act, bool fs, bool mover, bool quiesce)
{
    next->seq++;
    if (mig_velero_name(next->backup, sizeof next->backup, p->site, next->namespace_, next->id,
                        next->seq) != 0)
        snprintf(next->backup, sizeof next->backup, "floe-%lld-%d", (long long)next->id, next->seq);
    next->backup_started_ms = now_ms;
    next->step_started_ms = now_ms;
    next->retry_at_ms = 0;
    act->kind = MIG_ACT_BACKUP;
    act->fs_backup = fs;
    act->snapshot_move_data = mover;
    act->quiesce = quiesce;
}

/* What the action creating m->backup looks like in m's phase. */
static void backup_action(const struct store_mig *m, const struct mig_params *p,
                          struct mig_action *act)
{
    enum mig_phase ph = phase_of(m);
    act->kind = MIG_ACT_BACKUP;
    if (ph == MIG_PH_SWITCHOVER && m->step == MIG_SW_MOVER_BACKUP) {
        act->fs_backup = false;
        act->snapshot_move_data = true;
    } else {
        act->fs_backup = !m->stateless;
        act->quiesce = ph == MIG_PH_SWITCHOVER && m->quiesce[0];
    }
    (void)p;
}

static const char *backup_label(const struct store_mig *m)
{
    switch (phase_of(m)) {
    case MIG_PH_PRECOPY:
        return m->stateless ? "backup" : "initial backup";
    case MIG_PH_DELTA:
        return "delta backup";
    default:
        return "final backup";
    }
}

/* A backup failed: the next name, or a rollback without retries left. */
static void backup_failed(const struct store_mig *m, struct store_mig *next,
                          const struct mig_params *p, int64_t now_ms, struct mig_action *act,
                          struct mig_effects *fx, const char *why)
{
    const char *label = backup_label(m);
    if (m->attempts < p->retries) {
        char old[STORE_MIG_BACKUP_MAX];
        util_strlcpy(old, m->backup, sizeof old);
        next->attempts = m->attempts + 1;
        struct mig_action a = {0};
        backup_action(m, p, &a);
        start_backup(next, p, now_ms, act, a.fs_backup, a.snapshot_move_data, a.quiesce);
        util_strlcpy(next->error, why, sizeof next->error);
        eventf(fx, true, "%s %s %s; trying again as %s (retry %d of %d)", label, old, why,
               next->backup, next->attempts, p->retries);
        return;
    }
    rollback(next, p, now_ms, fx, "%s %s %s%s", label, m->backup, why,
             p->retries ? "; no retries left" : "");
}

/* The backup m->backup finished (Completed or PartiallyFailed). */
static void backup_done(const struct store_mig *m, const struct mig_obs *obs,
                        struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                        struct mig_action *act, struct mig_effects *fx);

/* Watches the backup in progress; returns true when it finished. */
static void watch_backup(const struct store_mig *m, const struct mig_obs *obs,
                         struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                         struct mig_action *act, struct mig_effects *fx)
{
    double limit = mig_budget_s(m, p);
    if (waited_s(m, now_ms) > limit) {
        char b[32];
        mig_format_s(limit, b, sizeof b);
        char why[96];
        snprintf(why, sizeof why, "did not finish within its budget of %s", b);
        backup_failed(m, next, p, now_ms, act, fx, why);
        return;
    }
    if (!obs->backup.ok) {
        problem(m, next, fx, "cannot read backup %s: %s", m->backup, obs->backup.error);
        return;
    }
    const struct mig_vstatus *v = &obs->backup.status;
    if (v->cls != MIG_V_GONE && v->created_ms &&
        v->created_ms < m->created_ms - MIG_CLOCK_SKEW_MS) {
        /* The name is ours only if the object is younger than the
         * migration: an older one is left from a migration of an earlier
         * database (ids start again at 1), and its data is old. */
        char created[32];
        util_format_rfc3339(v->created_ms, created, sizeof created);
        rollback(next, p, now_ms, fx,
                 "backup %s already exists from before migration %lld (created %s): not ours; "
                 "was floe's database replaced? Delete the old backup object, then move again",
                 m->backup, (long long)m->id, created);
        return;
    }
    char why[STORE_MIG_ERROR_MAX];
    switch (v->cls) {
    case MIG_V_GONE:
        /* Not created yet (the agent stopped between saving the intent
         * and the POST) or removed: create it; the name makes it ours. */
        if (now_ms >= m->retry_at_ms)
            backup_action(m, p, act);
        return;
    case MIG_V_RUNNING:
        if (m->error[0] && strncmp(m->error, "cannot read backup", 18) == 0)
            next->error[0] = '\0';
        return;
    case MIG_V_COMPLETED:
    case MIG_V_PARTIAL:
        backup_done(m, obs, next, p, now_ms, act, fx);
        return;
    case MIG_V_FAILED:
        if (mig_velero_restart_failure(v->reason))
            snprintf(why, sizeof why, "was marked Failed by a Velero restart");
        else
            snprintf(why, sizeof why, "ended %s: %.300s", v->phase[0] ? v->phase : "Failed",
                     v->reason[0] ? v->reason : "no reason given");
        backup_failed(m, next, p, now_ms, act, fx, why);
        return;
    case MIG_V_DELETING:
        backup_failed(m, next, p, now_ms, act, fx, "is being deleted");
        return;
    }
}

static void rate_sample(struct mig_effects *fx, enum store_mig_rate_kind kind, double gb,
                        double seconds)
{
    if (!(gb >= MIG_RATE_MIN_GB) || !(seconds >= 1) || fx->nrates >= ARRAY_LEN(fx->rates))
        return;
    fx->rates[fx->nrates++] = (struct store_mig_rate_sample){kind, gb / (seconds / 60.0)};
}

static void enter_switchover(struct store_mig *next, int64_t now_ms, struct mig_effects *fx,
                             const char *why)
{
    set_phase(next, MIG_PH_SWITCHOVER, MIG_SW_RECORD, now_ms);
    size_t len = strlen(fx->event);
    snprintf(fx->event + len, sizeof fx->event - len, "; switching over: %s", why);
}

static void enter_restoring(struct store_mig *next, int64_t now_ms)
{
    set_phase(next, MIG_PH_RESTORING, 0, now_ms);
}

/* Switchover, once the prestage import (if any) is ready: the downtime
 * must not start while the target may still need the whole data. */
static void to_switchover(struct store_mig *next, int64_t now_ms, struct mig_effects *fx,
                          const char *why)
{
    if (!prestage_pending(next)) {
        enter_switchover(next, now_ms, fx, why);
        return;
    }
    if (phase_of(next) == MIG_PH_DELTA)
        set_step(next, MIG_DL_PRESTAGE, now_ms);
    else
        set_phase(next, MIG_PH_DELTA, MIG_DL_PRESTAGE, now_ms);
    size_t len = strlen(fx->event);
    snprintf(fx->event + len, sizeof fx->event - len,
             "; ready to switch over (%s) once the prestage import at %s is ready", why,
             next->peer);
}

/* Asks the target to restore the initial backup just completed and keep
 * it stopped (migrator.incremental_restore); the intent is saved first. */
static void start_prestage(struct store_mig *next, int64_t now_ms, struct mig_action *act,
                           struct mig_effects *fx)
{
    util_strlcpy(next->prestage_backup, next->last_backup, sizeof next->prestage_backup);
    util_strlcpy(next->prestage_state, PRESTAGE_REQUESTED, sizeof next->prestage_state);
    next->prestage_id[0] = '\0';
    next->prestage_started_ms = now_ms;
    act->kind = MIG_ACT_IMPORT;
    act->prestage = true;
    size_t len = strlen(fx->event);
    snprintf(fx->event + len, sizeof fx->event - len,
             "; prestaging it at %s (restored there, kept at 0 replicas)", next->peer);
}

static void backup_done(const struct store_mig *m, const struct mig_obs *obs,
                        struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                        struct mig_action *act, struct mig_effects *fx)
{
    const struct mig_vstatus *v = &obs->backup.status;
    bool partial = v->cls == MIG_V_PARTIAL;
    double dur = v->started_ms > 0 && v->completed_ms > v->started_ms
                     ? (double)(v->completed_ms - v->started_ms) / 1000.0
                     : elapsed_s(m->backup_started_ms, now_ms);
    enum mig_phase ph = phase_of(m);
    bool initial = ph == MIG_PH_PRECOPY;
    double bytes = isfinite(obs->backup.bytes) && obs->backup.bytes > 0 ? obs->backup.bytes : 0;
    if (bytes == 0 && initial && !m->stateless)
        bytes = m->data_gb * 1e9; /* the cluster does not say: the workload's size */
    next->bytes += bytes;
    util_strlcpy(next->last_backup, m->backup, sizeof next->last_backup);
    next->last_backup_partial = partial;
    next->last_backup_s = dur;
    next->attempts = 0;
    if (!m->stateless)
        rate_sample(fx, initial ? STORE_RATE_INITIAL : STORE_RATE_DELTA, gb_of(bytes), dur);

    char d[32], how[STORE_MIG_DETAIL_MAX];
    mig_format_s(dur, d, sizeof d);
    if (m->stateless)
        snprintf(how, sizeof how, "resources only, in %s", d);
    else
        snprintf(how, sizeof how, "%.1f GB in %s", gb_of(bytes), d);
    eventf(fx, partial, "%s %s %s (%s)%s%s", backup_label(m), m->backup,
           partial ? "partially failed" : "completed", how, partial ? ": " : "",
           partial ? (v->reason[0] ? v->reason : "some items failed") : "");
    if (partial) {
        size_t len = strlen(fx->event);
        snprintf(fx->event + len, sizeof fx->event - len,
                 "; continuing: the target must become ready");
    }

    char iv[32];
    mig_format_s((double)p->delta_interval_ms / 1000.0, iv, sizeof iv);
    size_t len = strlen(fx->event);
    switch (ph) {
    case MIG_PH_PRECOPY:
        if (!m->stateless && p->incremental_restore && !m->prestage_state[0])
            start_prestage(next, now_ms, act, fx);
        len = strlen(fx->event);
        if (m->stateless) {
            enter_restoring(next, now_ms);
            snprintf(fx->event + len, sizeof fx->event - len, "; importing at %s", m->peer);
        } else if (dur <= MIG_DELTA_SMALL_S) {
            to_switchover(next, now_ms, fx, "the initial backup was short");
        } else {
            set_phase(next, MIG_PH_DELTA, 0, now_ms);
            next->next_backup_ms = now_ms + p->delta_interval_ms;
            snprintf(fx->event + len, sizeof fx->event - len, "; next delta backup in %s", iv);
        }
        break;
    case MIG_PH_DELTA: {
        next->deltas = m->deltas + 1;
        next->last_delta_gb = gb_of(bytes);
        next->prev_delta_s = dur;
        if (dur <= MIG_DELTA_SMALL_S)
            to_switchover(next, now_ms, fx, "the delta is small");
        else if (m->prev_delta_s > 0 && dur >= m->prev_delta_s)
            to_switchover(next, now_ms, fx, "the deltas no longer shrink");
        else if (next->deltas >= MIG_MAX_DELTAS)
            to_switchover(next, now_ms, fx, "enough deltas");
        else {
            set_step(next, 0, now_ms);
            next->next_backup_ms = now_ms + p->delta_interval_ms;
            snprintf(fx->event + len, sizeof fx->event - len, "; next delta backup in %s", iv);
        }
        break;
    }
    case MIG_PH_SWITCHOVER:
        if (m->step == MIG_SW_MOVER_BACKUP) {
            enter_restoring(next, now_ms);
            snprintf(fx->event + len, sizeof fx->event - len, "; importing at %s", m->peer);
        } else {
            next->last_delta_gb = gb_of(bytes); /* the final delta, for mig_fixed_s */
            set_step(next, MIG_SW_SCALE, now_ms);
            next->scaled = true;
            snprintf(fx->event + len, sizeof fx->event - len, "; scaling %s to 0", m->workload);
        }
        break;
    default:
        break;
    }
}

/* ---- the phases ---- */

static void step_reserved(const struct store_mig *m, const struct mig_obs *obs,
                          struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                          struct mig_action *act, struct mig_effects *fx)
{
    if (!obs->slot_free)
        return;
    set_phase(next, MIG_PH_PRECOPY, 0, now_ms);
    start_backup(next, p, now_ms, act, !m->stateless, false, false);
    if (m->stateless) {
        eventf(fx, false, "backup %s of the resources started (stateless: no volume data)",
               next->backup);
    } else {
        char e[32];
        mig_format_s(minutes_s(m->data_gb, p->rates.initial_gb_per_min), e, sizeof e);
        eventf(fx, false, "initial backup %s started (%.1f GB of volume data, expected %s)",
               next->backup, m->data_gb, e);
    }
}

/* The prestage import beside precopy and delta. Returns true when it
 * changed the plan (ready, or a rollback): nothing else happens in this
 * step, so the event says one thing. */
static bool track_prestage(const struct store_mig *m, const struct mig_obs *obs,
                           struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                           struct mig_effects *fx)
{
    if (!prestage_pending(m))
        return false;
    double limit = prestage_budget_s(m, p);
    if (elapsed_s(m->prestage_started_ms, now_ms) > limit) {
        char b[32];
        mig_format_s(limit, b, sizeof b);
        if (m->prestage_id[0])
            rollback(next, p, now_ms, fx, "the prestage import %s at %s was not ready within %s",
                     m->prestage_id, m->peer, b);
        else
            rollback(next, p, now_ms, fx, "no prestage import started at %s within %s: %s", m->peer,
                     b, m->error[0] ? m->error : "no answer");
        return true;
    }
    if (!m->prestage_id[0])
        return false; /* asked for again by prestage_post */
    const struct mig_import_obs *o = &obs->prestage;
    if (!o->ok) {
        if (o->http_status == 404) {
            rollback(next, p, now_ms, fx, "the prestage import %s is unknown at %s", m->prestage_id,
                     m->peer);
            return true;
        }
        problem(m, next, fx, "cannot read prestage import %s at %s: %s", m->prestage_id, m->peer,
                o->error);
        return false;
    }
    const struct mig_import_status *st = &o->status;
    if (st->phase == MIG_IMPORT_FAILED) {
        rollback(next, p, now_ms, fx, "the prestage import %s failed at %s: %s", m->prestage_id,
                 m->peer, st->error[0] ? st->error : "no reason given");
        return true;
    }
    if (st->phase != MIG_IMPORT_READY) {
        if (m->error[0] && strncmp(m->error, "cannot read prestage", 20) == 0)
            next->error[0] = '\0';
        return false;
    }
    util_strlcpy(next->prestage_state, PRESTAGE_READY, sizeof next->prestage_state);
    if (isfinite(st->restore_s) && isfinite(st->restored_bytes))
        rate_sample(fx, STORE_RATE_RESTORE, gb_of(st->restored_bytes), st->restore_s);
    char r[32];
    mig_format_s(isfinite(st->restore_s) ? st->restore_s
                                         : elapsed_s(m->prestage_started_ms, now_ms),
                 r, sizeof r);
    eventf(fx, false,
           "prestage import %s ready at %s (backup %s restored in %s, kept at 0 replicas): the "
           "final backup will be restored in place, only its delta",
           m->prestage_id, m->peer, m->prestage_backup, r);
    return true;
}

/* Asks for the prestage import again when its POST has not been
 * answered yet (the agent died, the peer did not answer). */
static void prestage_post(const struct store_mig *m, const struct store_mig *next, int64_t now_ms,
                          struct mig_action *act)
{
    enum mig_phase ph = phase_of(next);
    if (act->kind != MIG_ACT_NONE || !prestage_pending(next) || next->prestage_id[0] ||
        (ph != MIG_PH_PRECOPY && ph != MIG_PH_DELTA) || now_ms < m->retry_at_ms)
        return;
    act->kind = MIG_ACT_IMPORT;
    act->prestage = true;
}

static void step_delta(const struct store_mig *m, const struct mig_obs *obs, struct store_mig *next,
                       const struct mig_params *p, int64_t now_ms, struct mig_action *act,
                       struct mig_effects *fx)
{
    if (m->step == MIG_DL_PRESTAGE) {
        /* No more deltas: the one just taken is the one the estimate
         * uses; the prestage import was started long before. */
        if (prestage_pending(m))
            return;
        set_phase(next, MIG_PH_SWITCHOVER, MIG_SW_RECORD, now_ms);
        eventf(fx, false, "switching over: the prestage import %s is ready at %s", m->prestage_id,
               m->peer);
        return;
    }
    if (backup_running(m)) {
        watch_backup(m, obs, next, p, now_ms, act, fx);
        return;
    }
    if (now_ms < m->next_backup_ms)
        return;
    start_backup(next, p, now_ms, act, true, false, false);
    eventf(fx, false, "delta backup %s started", next->backup);
}

static void step_switchover(const struct store_mig *m, const struct mig_obs *obs,
                            struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                            struct mig_action *act, struct mig_effects *fx)
{
    if (m->step == MIG_SW_BACKUP || m->step == MIG_SW_MOVER_BACKUP) {
        watch_backup(m, obs, next, p, now_ms, act, fx);
        return;
    }
    double limit = mig_budget_s(m, p);
    if (waited_s(m, now_ms) > limit) {
        char b[32];
        mig_format_s(limit, b, sizeof b);
        rollback(next, p, now_ms, fx, "%s within %s",
                 m->step == MIG_SW_RECORD ? "could not read the source namespace"
                                          : "the source did not scale down",
                 b);
        return;
    }
    if (!obs->ns.ok) {
        problem(m, next, fx, "cannot read namespace %s: %s", m->namespace_, obs->ns.error);
        return;
    }
    const struct mig_ns_state *ns = obs->ns.ns;
    if (!ns->exists) {
        rollback(next, p, now_ms, fx, "the source namespace %s does not exist", m->namespace_);
        return;
    }
    char reps[STORE_MIG_DETAIL_MAX / 2];
    if (m->step == MIG_SW_RECORD && m->hold_expires_ms &&
        strcmp(m->prestage_state, PRESTAGE_READY) != 0) {
        /* The import confirms the reservation only after the downtime has
         * begun: if it could lapse first, give it back now, while nothing
         * has stopped (placement chooses again). A ready prestage import
         * confirmed it already: it lasts until the migration ends. */
        double need_s = budget(mig_estimate_downtime_s(m, p));
        if ((double)(m->hold_expires_ms - now_ms) / 1000.0 < need_s) {
            char left[32], need[32];
            mig_format_s((double)(m->hold_expires_ms - now_ms) / 1000.0, left, sizeof left);
            mig_format_s(need_s, need, sizeof need);
            rollback(next, p, now_ms, fx,
                     "reservation at %s would expire before the import could start (%s left, "
                     "the switchover and restore may take %s)",
                     m->peer, m->hold_expires_ms > now_ms ? left : "none", need);
            return;
        }
    }
    if (m->step == MIG_SW_RECORD) {
        /* The counts go into the state saved before anything is scaled:
         * a rollback and the target both read them from here. */
        if (!m->replicas_recorded)
            record_replicas(next, ns);
        replicas_text(next, reps, sizeof reps);
        next->estimated_downtime_s = mig_estimate_downtime_s(next, p);
        next->downtime_start_ms = now_ms;
        /* The mode is fixed here, with the counts: from now on only the
         * saved value decides (a reload that flips migrator.data_mover
         * after the scale-down must not import the last delta). */
        next->data_mover = p->data_mover;
        char est[32];
        mig_format_s(next->estimated_downtime_s, est, sizeof est);
        if (next->data_mover) {
            set_step(next, MIG_SW_SCALE, now_ms);
            next->scaled = true;
            eventf(fx, false,
                   "downtime starts (estimated %s): replicas recorded (%s); scaling %s to 0, "
                   "then the final backup with the data mover",
                   est, reps, m->workload);
            return;
        }
        set_step(next, MIG_SW_BACKUP, now_ms);
        /* Saved before the backup exists: its pre hook may stop the
         * writes at any moment from here. */
        next->quiesced = true;
        start_backup(next, p, now_ms, act, true, false, m->quiesce[0] != '\0');
        eventf(fx, false,
               "writes stop, downtime starts (estimated %s): replicas recorded (%s); final "
               "backup %s started with the pods up and %s",
               est, reps, next->backup,
               m->quiesce[0] ? "the quiesce hook" : "the pods' own Velero hooks");
        return;
    }
    /* MIG_SW_SCALE: everything to 0, then wait until no pod is left. */
    bool down = true;
    for (size_t i = 0; i < ns->nobjs; i++) {
        const struct mig_obj *o = &ns->objs[i];
        if (o->replicas != 0)
            add_scale(act, o, 0);
        if (!mig_obj_scaled_down(o))
            down = false;
    }
    if (act->kind == MIG_ACT_SCALE && now_ms < m->retry_at_ms)
        act->kind = MIG_ACT_NONE;
    if (!down)
        return;
    act->kind = MIG_ACT_NONE;
    if (m->data_mover) {
        set_step(next, MIG_SW_MOVER_BACKUP, now_ms);
        start_backup(next, p, now_ms, act, false, true, false);
        eventf(fx, false, "%s scaled to 0; final backup %s started with the data mover",
               m->workload, next->backup);
        return;
    }
    next->quiesced = false; /* no pod left: the next ones start writable */
    enter_restoring(next, now_ms);
    eventf(fx, false, "%s scaled to 0; importing at %s%s", m->workload, m->peer,
           prestage_ready(m) ? " (incremental: only the final delta is restored)" : "");
}

static void step_restoring(const struct store_mig *m, const struct mig_obs *obs,
                           struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                           struct mig_action *act, struct mig_effects *fx)
{
    double limit = mig_budget_s(m, p);
    if (waited_s(m, now_ms) > limit) {
        char b[32];
        mig_format_s(limit, b, sizeof b);
        rollback(next, p, now_ms, fx, "the import at %s was not ready within its budget of %s",
                 m->peer, b);
        return;
    }
    if (!m->replicas_recorded) {
        /* stateless: the source keeps serving; its counts of now go over */
        if (!obs->ns.ok) {
            problem(m, next, fx, "cannot read namespace %s: %s", m->namespace_, obs->ns.error);
            return;
        }
        if (!obs->ns.ns->exists) {
            rollback(next, p, now_ms, fx, "the source namespace %s does not exist", m->namespace_);
            return;
        }
        record_replicas(next, obs->ns.ns);
    }
    if (!m->import_id[0]) {
        if (now_ms < m->retry_at_ms)
            return;
        next->import_requested = true;
        act->kind = MIG_ACT_IMPORT;
        act->incremental = prestage_ready(m);
        return;
    }
    if (!obs->import.ok) {
        if (obs->import.http_status == 404) {
            rollback(next, p, now_ms, fx, "the import %s is unknown at %s", m->import_id, m->peer);
            return;
        }
        problem(m, next, fx, "cannot read import %s at %s: %s", m->import_id, m->peer,
                obs->import.error);
        return;
    }
    const struct mig_import_status *st = &obs->import.status;
    switch (st->phase) {
    case MIG_IMPORT_READY: {
        /* A full restore moved the data size when the target does not
         * say; an incremental one moved an unknown delta: no sample. */
        double gb = isfinite(st->restored_bytes) && st->restored_bytes > 0
                        ? gb_of(st->restored_bytes)
                        : (m->stateless || prestage_ready(m) ? 0 : m->data_gb);
        if (!m->stateless && isfinite(st->restore_s))
            rate_sample(fx, STORE_RATE_RESTORE, gb, st->restore_s);
        next->restore_s = isfinite(st->restore_s) && st->restore_s >= 0 ? st->restore_s : NAN;
        set_phase(next, MIG_PH_CUTOVER, MIG_CU_SWITCH, now_ms);
        char r[32];
        mig_format_s(isfinite(st->restore_s) ? st->restore_s : waited_s(m, now_ms), r, sizeof r);
        eventf(fx, false, "%s %s ready at %s (restore %s)%s",
               prestage_ready(m) ? "incremental import" : "import", m->import_id, m->peer, r,
               m->hostname[0] && p->traffic_switches ? "; switching traffic" : "");
        return;
    }
    case MIG_IMPORT_FAILED:
        rollback(next, p, now_ms, fx, "the import %s failed at %s: %s%s", m->import_id, m->peer,
                 st->error[0] ? st->error : "no reason given",
                 m->last_backup_partial ? " (the final backup had partially failed)" : "");
        return;
    default:
        if (m->error[0] && strncmp(m->error, "cannot read import", 18) == 0)
            next->error[0] = '\0';
        return;
    }
}

double mig_fixed_s(const struct store_mig *m, const struct mig_params *p)
{
    if (m->stateless || !isfinite(m->downtime_s) || m->downtime_s <= 0)
        return NAN;
    const struct pl_rates *r = &p->rates;
    /* What the transfer model predicts for this migration's final backup
     * and restore, with the rates as they stand now. */
    double delta_gb = expected_delta_gb(m, p);
    double backup_p = p->data_mover ? minutes_s(m->data_gb, r->initial_gb_per_min)
                                    : minutes_s(delta_gb, r->delta_gb_per_min);
    double restore_p = minutes_s(prestage_ready(m) ? delta_gb : m->data_gb, r->restore_gb_per_min);
    /* Velero's own times where known (the Backup's and the target's
     * Restore's stamps): the rates come from the same clock. */
    double backup_s =
        isfinite(m->last_backup_s) && m->last_backup_s > 0 ? m->last_backup_s : backup_p;
    double restore_s = isfinite(m->restore_s) && m->restore_s >= 0 ? m->restore_s : restore_p;
    /* The rest of the downtime (scaling, sync, start, polling, the
     * switch) on our clock; below 0 only when the clocks disagree. */
    double rest = m->downtime_s - backup_s - restore_s;
    double fixed = (backup_s - backup_p) + (restore_s - restore_p) + (rest > 0 ? rest : 0);
    if (!isfinite(fixed) || fixed > MIG_FIXED_MAX_S)
        return NAN;
    return fixed > 0 ? fixed : 0;
}

/* Stateful cut over (or stateless, once its source is down): done. */
static void finish_done(const struct store_mig *m, struct store_mig *next,
                        const struct mig_params *p, int64_t now_ms, struct mig_effects *fx)
{
    set_phase(next, MIG_PH_DONE, MIG_DN_RELEASE, now_ms);
    util_strlcpy(next->result, mig_phase_name(MIG_PH_DONE), sizeof next->result);
    next->ended_ms = now_ms;
    next->retain_until_ms = now_ms + p->retain_source_ms;
    if (m->stateless)
        next->downtime_s = 0;
    else if (m->downtime_start_ms)
        next->downtime_s = elapsed_s(m->downtime_start_ms, now_ms);
    double fixed = mig_fixed_s(next, p);
    if (isfinite(fixed) && fx->nrates < ARRAY_LEN(fx->rates))
        fx->rates[fx->nrates++] = (struct store_mig_rate_sample){STORE_RATE_FIXED, fixed};
}

static void step_cutover(const struct store_mig *m, const struct mig_obs *obs,
                         struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                         struct mig_action *act, struct mig_effects *fx)
{
    bool switching = m->hostname[0] && p->traffic_switches;
    if (m->step == MIG_CU_SWITCH) {
        double limit = mig_budget_s(m, p);
        if (waited_s(m, now_ms) > limit) {
            char b[32];
            mig_format_s(limit, b, sizeof b);
            rollback(next, p, now_ms, fx, "traffic could not be switched within %s: %s", b,
                     m->error[0] ? m->error : "no answer");
            return;
        }
        if (!switching) {
            /* Nothing to switch: cut over as far as floe is concerned. */
            struct mig_result r = {.ok = true};
            struct mig_action none = {.kind = MIG_ACT_TRAFFIC};
            mig_outcome(m, &none, &r, p, now_ms, next, fx);
            return;
        }
        if (!p->peer_ingress || !p->peer_ingress[0]) {
            problem(m, next, fx,
                    "no ingress known for %s (peers[].ingress, or its capacity answer): %s "
                    "cannot be switched",
                    m->peer, m->hostname);
            return;
        }
        if (now_ms < m->retry_at_ms)
            return;
        act->kind = MIG_ACT_TRAFFIC;
        act->address = p->peer_ingress;
        return;
    }
    if (m->step == MIG_CU_TTL) {
        int ttl_s = switching ? p->traffic_ttl_s : 0;
        if (now_ms < m->traffic_switched_ms + (int64_t)ttl_s * 1000)
            return;
        set_step(next, MIG_CU_SCALE, now_ms);
        next->scaled = true;
        if (switching)
            eventf(fx, false,
                   "resolvers have let go of the old address (TTL %d s); scaling %s to 0 here",
                   ttl_s, m->workload);
        else
            eventf(fx, false, "scaling %s to 0 here", m->workload);
        return;
    }
    /* MIG_CU_SCALE (stateless): past the point of no return; tried until
     * it works. */
    if (!obs->ns.ok) {
        problem(m, next, fx, "cannot read namespace %s: %s", m->namespace_, obs->ns.error);
        return;
    }
    const struct mig_ns_state *ns = obs->ns.ns;
    bool down = true;
    for (size_t i = 0; ns->exists && i < ns->nobjs; i++) {
        if (ns->objs[i].replicas != 0)
            add_scale(act, &ns->objs[i], 0);
        if (!mig_obj_scaled_down(&ns->objs[i]))
            down = false;
    }
    if (act->kind == MIG_ACT_SCALE && now_ms < m->retry_at_ms)
        act->kind = MIG_ACT_NONE;
    if (!down)
        return;
    act->kind = MIG_ACT_NONE;
    finish_done(m, next, p, now_ms, fx);
    eventf(fx, false, "%s scaled to 0 here; done, without downtime", m->workload);
}

/* Rollback step 1 while the pods may be quiesced: stop them all, so
 * that the scale back starts new, writable ones. Waits first for a final
 * backup still running (its pre hook would quiesce the new pods), at
 * most for that backup's budget. */
static void rb_restart(const struct store_mig *m, const struct mig_obs *obs, struct store_mig *next,
                       const struct mig_params *p, int64_t now_ms, struct mig_action *act,
                       struct mig_effects *fx)
{
    if (backup_running(m) && obs->backup.asked &&
        elapsed_s(m->backup_started_ms, now_ms) <= budget(backup_expected_s(m, p))) {
        if (!obs->backup.ok) {
            problem(m, next, fx, "cannot read backup %s before restarting %s: %s", m->backup,
                    m->workload, obs->backup.error);
            return;
        }
        if (obs->backup.status.cls == MIG_V_RUNNING) {
            problem(m, next, fx,
                    "waiting for the final backup %s to end before restarting %s (its pre hook "
                    "would stop the new pods' writes)",
                    m->backup, m->workload);
            return;
        }
    }
    const struct mig_ns_state *ns = obs->ns.ns;
    bool down = true;
    for (size_t i = 0; ns->exists && i < m->nreplicas; i++) {
        const struct mig_obj *o = find_obj(ns, m->replicas[i].key);
        if (!o)
            continue;
        if (o->replicas != 0)
            add_scale(act, o, 0);
        if (!mig_obj_scaled_down(o))
            down = false;
    }
    if (act->kind == MIG_ACT_SCALE) {
        next->scaled = true; /* saved before anything goes to 0 */
        if (now_ms < m->retry_at_ms)
            act->kind = MIG_ACT_NONE;
        if (!m->scaled)
            eventf(fx, false,
                   "restarting %s: its writes may have been stopped by the final backup's pre "
                   "hook, which has no post hook; scaling to 0, then back",
                   m->workload);
    }
    if (!down)
        return;
    act->kind = MIG_ACT_NONE;
    next->quiesced = false;
    next->scaled = true;
    set_step(next, MIG_RB_SCALE, now_ms);
    char reps[STORE_MIG_DETAIL_MAX / 2];
    replicas_text(m, reps, sizeof reps);
    eventf(fx, false, "%s has no pod left (the quiesce ended with them); scaling back to %s",
           m->workload, reps);
}

static void step_rolling_back(const struct store_mig *m, const struct mig_obs *obs,
                              struct store_mig *next, const struct mig_params *p, int64_t now_ms,
                              struct mig_action *act, struct mig_effects *fx)
{
    if (!rb_applies(m, p, m->step)) {
        rb_after(next, p, m->step, now_ms, fx);
        return;
    }
    double limit = mig_budget_s(m, p);
    bool over = waited_s(m, now_ms) > limit;
    char b[32];
    mig_format_s(limit, b, sizeof b);
    switch (m->step) {
    case MIG_RB_TRAFFIC:
        if (!p->home_ingress || !p->home_ingress[0] || over) {
            eventf(fx, true, "%s may still point at %s: %s", m->hostname, m->peer,
                   over ? "switching it back failed" : "no site.ingress to point it back at");
            rb_after(next, p, MIG_RB_TRAFFIC, now_ms, fx);
            return;
        }
        if (now_ms >= m->retry_at_ms) {
            act->kind = MIG_ACT_TRAFFIC;
            act->home = true;
            act->address = p->home_ingress;
        }
        return;
    case MIG_RB_SCALE: {
        /* Never given up: the workload must run here again. */
        if (!obs->ns.ok) {
            problem(m, next, fx, "cannot read namespace %s to scale it back: %s", m->namespace_,
                    obs->ns.error);
            return;
        }
        const struct mig_ns_state *ns = obs->ns.ns;
        if (m->quiesced) {
            rb_restart(m, obs, next, p, now_ms, act, fx);
            return;
        }
        bool back = true, ready = true;
        for (size_t i = 0; i < m->nreplicas; i++) {
            const struct mig_obj *o = ns->exists ? find_obj(ns, m->replicas[i].key) : NULL;
            if (!o)
                continue; /* gone: nothing to scale (noted when the rollback ends) */
            if (o->replicas != m->replicas[i].replicas) {
                add_scale(act, o, m->replicas[i].replicas);
                back = false;
            } else if (m->replicas[i].replicas > 0 && !mig_obj_ready(o)) {
                ready = false;
            }
        }
        if (act->kind == MIG_ACT_SCALE && now_ms < m->retry_at_ms)
            act->kind = MIG_ACT_NONE;
        if (!back || (!ready && !over))
            return;
        act->kind = MIG_ACT_NONE;
        char reps[STORE_MIG_DETAIL_MAX / 2];
        replicas_text(m, reps, sizeof reps);
        eventf(fx, !ready || !ns->exists, "%s scaled back to %s%s", m->workload, reps,
               !ns->exists ? " (but its namespace is gone)"
                           : (ready ? "" : " (not all ready yet)"));
        rb_after(next, p, MIG_RB_SCALE, now_ms, fx);
        return;
    }
    case MIG_RB_DROP:
        /* Never given up (failed_action backs off): an import left there
         * would start the workload at the peer while it runs here. */
        if (now_ms >= m->retry_at_ms)
            act->kind = m->import_id[0] ? MIG_ACT_DROP : MIG_ACT_IMPORT;
        return;
    case MIG_RB_DROP_PRESTAGE:
        /* Never given up either: the prestaged copy holds the reservation. */
        if (now_ms >= m->retry_at_ms) {
            /* Without its id, asking again finds it (the same backup). */
            act->kind = m->prestage_id[0] ? MIG_ACT_DROP : MIG_ACT_IMPORT;
            act->prestage = true;
        }
        return;
    case MIG_RB_RELEASE:
        /* Never given up either: a confirmed reservation never lapses. */
        if (now_ms >= m->retry_at_ms)
            act->kind = MIG_ACT_RELEASE;
        return;
    }
}

static void step_done(const struct store_mig *m, const struct mig_obs *obs, struct store_mig *next,
                      const struct mig_params *p, int64_t now_ms, struct mig_action *act,
                      struct mig_effects *fx)
{
    if (now_ms < m->retry_at_ms)
        return;
    if (!m->released_ms) {
        /* Tried until it works (failed_action backs off): a confirmed
         * reservation never lapses at the peer. */
        act->kind = MIG_ACT_RELEASE;
        return;
    }
    if (m->source_deleted_ms)
        return;
    if (obs->returned.found) {
        next->source_deleted_ms = now_ms;
        next->error[0] = '\0';
        eventf(fx, false,
               "%s came back from %s (import %lld here took the namespace over): the source kept "
               "here was replaced by it and is not deleted",
               m->workload, m->peer, (long long)obs->returned.import_id);
        return;
    }
    /* Unknown whether it came back: deleting could delete the workload
     * running here again; the next tick asks again. */
    if (obs->returned.unknown)
        return;
    if (now_ms < m->retain_until_ms)
        return;
    act->kind = MIG_ACT_DELETE_NS;
    (void)p;
}

unsigned mig_wants(const struct store_mig *m)
{
    enum mig_phase ph = phase_of(m);
    if (ph == MIG_PH_DONE && m->released_ms && !m->source_deleted_ms)
        return MIG_WANT_RETURN;
    if (m->result[0])
        return 0;
    switch (ph) {
    case MIG_PH_RESERVED:
        return MIG_WANT_SLOT;
    case MIG_PH_PRECOPY:
    case MIG_PH_DELTA:
        return (backup_running(m) ? MIG_WANT_BACKUP : 0) |
               (prestage_pending(m) && m->prestage_id[0] ? MIG_WANT_PRESTAGE : 0);
    case MIG_PH_SWITCHOVER:
        return m->step == MIG_SW_BACKUP || m->step == MIG_SW_MOVER_BACKUP ? MIG_WANT_BACKUP
                                                                          : MIG_WANT_NS;
    case MIG_PH_RESTORING:
        return (m->replicas_recorded ? 0 : MIG_WANT_NS) | (m->import_id[0] ? MIG_WANT_IMPORT : 0);
    case MIG_PH_CUTOVER:
        return m->step == MIG_CU_SCALE ? MIG_WANT_NS : 0;
    case MIG_PH_ROLLING_BACK:
        if (m->step != MIG_RB_SCALE)
            return 0;
        return MIG_WANT_NS | (m->quiesced && backup_running(m) ? MIG_WANT_BACKUP : 0);
    default:
        return 0;
    }
}

bool mig_step(const struct store_mig *m, const struct mig_obs *obs, const struct mig_params *p,
              int64_t now_ms, struct store_mig *next, struct mig_action *act,
              struct mig_effects *fx)
{
    memcpy(next, m, sizeof *next);
    memset(act, 0, sizeof *act);
    memset(fx, 0, sizeof *fx);
    int phase = mig_phase_parse(m->phase);
    if (phase < 0) {
        problem(m, next, fx, "unknown phase '%s' in the store: left alone", m->phase);
    } else if (m->result[0]) {
        if (phase == MIG_PH_DONE)
            step_done(m, obs, next, p, now_ms, act, fx);
    } else if (m->abort_requested && phase != MIG_PH_ROLLING_BACK && !m->traffic_switched_ms) {
        rollback(next, p, now_ms, fx, STORE_MIG_ABORT_REASON "%s",
                 m->abort_by[0] ? m->abort_by : "an operator");
    } else if (p->winding_down && phase <= MIG_PH_DELTA) {
        /* Nothing stopped or scaled yet: the cheapest end, and what the
         * operator asked for by removing the section. */
        rollback(next, p, now_ms, fx,
                 "the migrator section was removed from the config; %s had not stopped yet",
                 m->workload);
    } else {
        switch ((enum mig_phase)phase) {
        case MIG_PH_RESERVED:
            step_reserved(m, obs, next, p, now_ms, act, fx);
            break;
        case MIG_PH_PRECOPY:
        case MIG_PH_DELTA:
            if (track_prestage(m, obs, next, p, now_ms, fx))
                break;
            if (phase == MIG_PH_PRECOPY)
                watch_backup(m, obs, next, p, now_ms, act, fx);
            else
                step_delta(m, obs, next, p, now_ms, act, fx);
            prestage_post(m, next, now_ms, act);
            break;
        case MIG_PH_SWITCHOVER:
            step_switchover(m, obs, next, p, now_ms, act, fx);
            break;
        case MIG_PH_RESTORING:
            step_restoring(m, obs, next, p, now_ms, act, fx);
            break;
        case MIG_PH_CUTOVER:
            step_cutover(m, obs, next, p, now_ms, act, fx);
            break;
        case MIG_PH_ROLLING_BACK:
            step_rolling_back(m, obs, next, p, now_ms, act, fx);
            break;
        default:
            break;
        }
    }
    bool changed = memcmp(next, m, sizeof *next) != 0;
    if (changed)
        next->updated_ms = now_ms;
    return changed;
}

/* ---- outcomes ---- */

/* The peer's cleanup (drop, release; the import asked again to find the
 * one to drop) is tried until it works: after a failure it waits as long
 * as the step has waited so far (the pause doubles), from MIG_RETRY_MS to
 * MIG_PEER_BACKOFF_MAX_MS. Returns the pause, or 0 for any other action. */
static int64_t cleanup_backoff_ms(const struct store_mig *m, const struct mig_action *act,
                                  int64_t now_ms)
{
    enum mig_phase ph = phase_of(m);
    bool cleanup = (ph == MIG_PH_ROLLING_BACK &&
                    (act->kind == MIG_ACT_DROP || act->kind == MIG_ACT_RELEASE ||
                     act->kind == MIG_ACT_IMPORT)) ||
                   (ph == MIG_PH_DONE && act->kind == MIG_ACT_RELEASE);
    if (!cleanup)
        return 0;
    int64_t waited = now_ms - m->step_started_ms;
    if (waited < MIG_RETRY_MS)
        return MIG_RETRY_MS;
    return waited < MIG_PEER_BACKOFF_MAX_MS ? waited : MIG_PEER_BACKOFF_MAX_MS;
}

static void failed_action(const struct store_mig *m, struct store_mig *next,
                          const struct mig_action *act, const struct mig_result *r, int64_t now_ms,
                          struct mig_effects *fx)
{
    retry_later(next, now_ms);
    int64_t backoff = cleanup_backoff_ms(m, act, now_ms);
    if (backoff) {
        next->retry_at_ms = now_ms + backoff;
        char b[32];
        mig_format_s((double)backoff / 1000.0, b, sizeof b);
        const char *what = act->kind == MIG_ACT_RELEASE ? "release reservation"
                           : act->prestage               ? "drop prestage import"
                                                         : "drop import";
        const char *id = act->prestage ? m->prestage_id : m->import_id;
        const char *which = act->kind == MIG_ACT_RELEASE ? m->reservation
                            : id[0]                      ? id
                                                         : "(asking for its id)";
        problem(m, next, fx, "cannot %s %s at %s: %.250s; trying again in %s", what, which,
                m->peer, r->error, b);
        return;
    }
    const char *what = mig_act_name(act->kind);
    switch (act->kind) {
    case MIG_ACT_BACKUP:
        problem(m, next, fx, "cannot create backup %s: %s", m->backup, r->error);
        break;
    case MIG_ACT_SCALE:
        problem(m, next, fx, "cannot scale %s: %s", m->workload, r->error);
        break;
    case MIG_ACT_IMPORT:
        problem(m, next, fx, "cannot start the %simport at %s: %s",
                act->prestage ? "prestage " : "", m->peer, r->error);
        break;
    case MIG_ACT_DROP:
        problem(m, next, fx, "cannot drop %simport %s at %s: %s", act->prestage ? "prestage " : "",
                act->prestage ? m->prestage_id : m->import_id, m->peer, r->error);
        break;
    case MIG_ACT_TRAFFIC:
        problem(m, next, fx, "cannot switch %s: %s", m->hostname, r->error);
        break;
    case MIG_ACT_RELEASE:
        problem(m, next, fx, "cannot release reservation %s at %s: %s", m->reservation, m->peer,
                r->error);
        break;
    case MIG_ACT_DELETE_NS:
        problem(m, next, fx, "cannot delete namespace %s: %s", m->namespace_, r->error);
        break;
    default:
        problem(m, next, fx, "%s failed: %s", what, r->error);
        break;
    }
}

static bool refused(const struct mig_result *r)
{
    return r->http_status >= 400 && r->http_status < 500 && r->http_status != 408 &&
           r->http_status != 429;
}

static void outcome_prestage(const struct store_mig *m, const struct mig_result *r,
                             const struct mig_params *p, int64_t now_ms, struct store_mig *next,
                             struct mig_effects *fx)
{
    bool rolling = phase_of(m) == MIG_PH_ROLLING_BACK;
    if (r->ok && r->import.id[0]) {
        util_strlcpy(next->prestage_id, r->import.id, sizeof next->prestage_id);
        if (!rolling) {
            next->error[0] = '\0';
            eventf(fx, false, "prestage import %s started at %s (backup %s)", r->import.id, m->peer,
                   m->prestage_backup);
        }
        return;
    }
    if (r->ok)
        retry_later(next, now_ms);
    if (refused(r)) {
        if (rolling) {
            /* The target has no prestage import of ours to drop. */
            next->prestage_state[0] = '\0';
            rb_after(next, p, MIG_RB_DROP_PRESTAGE, now_ms, fx);
            return;
        }
        rollback(next, p, now_ms, fx, "%s refused the prestage import: %s", m->peer, r->error);
        return;
    }
    failed_action(m, next, &(struct mig_action){.kind = MIG_ACT_IMPORT, .prestage = true}, r,
                  now_ms, fx);
}

static void outcome_import(const struct store_mig *m, const struct mig_result *r,
                           const struct mig_params *p, int64_t now_ms, struct store_mig *next,
                           struct mig_effects *fx)
{
    bool rolling = phase_of(m) == MIG_PH_ROLLING_BACK;
    if (r->ok && r->import.id[0]) {
        util_strlcpy(next->import_id, r->import.id, sizeof next->import_id);
        next->error[0] = rolling ? next->error[0] : '\0';
        if (!rolling) {
            char reps[STORE_MIG_DETAIL_MAX / 2];
            replicas_text(m, reps, sizeof reps);
            eventf(fx, false, "%simport %s started at %s (backup %s, replicas %s)",
                   prestage_ready(m) ? "incremental " : "", r->import.id, m->peer, m->last_backup,
                   reps);
        }
        return;
    }
    if (r->ok)
        retry_later(next, now_ms);
    if (refused(r)) {
        if (rolling) {
            /* The target has no import of ours to drop. */
            next->import_requested = false;
            rb_after(next, p, MIG_RB_DROP, now_ms, fx);
            return;
        }
        rollback(next, p, now_ms, fx, "%s refused the import: %s", m->peer, r->error);
        return;
    }
    failed_action(m, next, &(struct mig_action){.kind = MIG_ACT_IMPORT}, r, now_ms, fx);
}

bool mig_outcome(const struct store_mig *m, const struct mig_action *act,
                 const struct mig_result *r, const struct mig_params *p, int64_t now_ms,
                 struct store_mig *next, struct mig_effects *fx)
{
    memcpy(next, m, sizeof *next);
    memset(fx, 0, sizeof *fx);
    enum mig_phase ph = phase_of(m);
    switch (act->kind) {
    case MIG_ACT_NONE:
        break;
    case MIG_ACT_IMPORT:
        if (act->prestage)
            outcome_prestage(m, r, p, now_ms, next, fx);
        else
            outcome_import(m, r, p, now_ms, next, fx);
        break;
    case MIG_ACT_TRAFFIC:
        if (!r->ok) {
            failed_action(m, next, act, r, now_ms, fx);
            break;
        }
        if (act->home) {
            eventf(fx, false, "%s points at this site again (%s)", m->hostname, act->address);
            rb_after(next, p, MIG_RB_TRAFFIC, now_ms, fx);
            break;
        }
        if (ph != MIG_PH_CUTOVER || m->step != MIG_CU_SWITCH)
            break;
        next->traffic_switched_ms = now_ms;
        char sw[STORE_MIG_DETAIL_MAX];
        if (m->hostname[0] && p->traffic_switches)
            snprintf(sw, sizeof sw, "traffic for %s switched to %s (%s)", m->hostname, m->peer,
                     act->address ? act->address : "?");
        else if (m->hostname[0])
            snprintf(sw, sizeof sw, "traffic driver none: point %s at %s yourself", m->hostname,
                     m->peer);
        else
            snprintf(sw, sizeof sw, "no hostname: nothing to switch");
        if (m->stateless) {
            set_step(next, MIG_CU_TTL, now_ms);
            next->traffic_switched_ms = now_ms;
            eventf(fx, false, "%s; %s keeps serving here for the record's TTL", sw, m->workload);
            break;
        }
        finish_done(m, next, p, now_ms, fx);
        char d[32], e[32];
        mig_format_s(next->downtime_s, d, sizeof d);
        mig_format_s(m->estimated_downtime_s, e, sizeof e);
        eventf(fx, false, "%s; downtime %s (estimated %s); done", sw, d, e);
        break;
    case MIG_ACT_DROP:
        if ((r->ok || r->http_status == 404) && act->prestage) {
            eventf(fx, false, "prestage import %s dropped at %s", m->prestage_id, m->peer);
            next->prestage_id[0] = '\0';
            util_strlcpy(next->prestage_state, PRESTAGE_DROPPED, sizeof next->prestage_state);
            rb_after(next, p, MIG_RB_DROP_PRESTAGE, now_ms, fx);
        } else if (r->ok || r->http_status == 404) {
            eventf(fx, false, "import %s dropped at %s", m->import_id, m->peer);
            next->import_id[0] = '\0';
            next->import_requested = false;
            rb_after(next, p, MIG_RB_DROP, now_ms, fx);
        } else {
            failed_action(m, next, act, r, now_ms, fx);
        }
        break;
    case MIG_ACT_RELEASE:
        if (!r->ok) {
            failed_action(m, next, act, r, now_ms, fx);
            break;
        }
        next->released_ms = now_ms;
        fx->release_hold = true;
        if (ph == MIG_PH_ROLLING_BACK) {
            rolled_back(next, now_ms, fx);
        } else {
            set_step(next, MIG_DN_RETAIN, now_ms);
            char until[40];
            util_format_rfc3339(m->retain_until_ms, until, sizeof until);
            eventf(fx, false, "reservation %s at %s released; %s kept here at 0 replicas until %s",
                   m->reservation, m->peer, m->namespace_, until);
        }
        break;
    case MIG_ACT_DELETE_NS:
        if (!r->ok) {
            failed_action(m, next, act, r, now_ms, fx);
            break;
        }
        next->source_deleted_ms = now_ms;
        next->error[0] = '\0';
        eventf(fx, false, "source namespace %s deleted", m->namespace_);
        break;
    case MIG_ACT_BACKUP:
    case MIG_ACT_SCALE:
        /* Their effect is observed at the next step. */
        if (!r->ok) {
            if (act->kind == MIG_ACT_BACKUP && refused(r) && r->http_status != 409) {
                /* The API server refused the object itself: a retry
                 * under the next name, as for a failed backup. */
                struct mig_action again = {0};
                char why[STORE_MIG_ERROR_MAX];
                snprintf(why, sizeof why, "was refused: %.300s", r->error);
                backup_failed(m, next, p, now_ms, &again, fx, why);
            } else {
                failed_action(m, next, act, r, now_ms, fx);
            }
        } else if (m->retry_at_ms) {
            next->retry_at_ms = 0;
        }
        break;
    }
    bool changed = memcmp(next, m, sizeof *next) != 0;
    if (changed)
        next->updated_ms = now_ms;
    return changed;
}
