/*
 * pl_rebalance — the plan of a rebalance decision; the rules are in
 * pl_rebalance.h. Units (groups) first, then the failbacks, then the
 * levelling, then a reason for every peer.
 */
#include "placement/pl_rebalance.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* kW compared with a little slack, as pl_choose does: 30 kW spare takes
 * 10 + 20 kW however the sum rounds. */
#define KW_SLACK 1e-9

struct unit {
    size_t start, n;   /* members: plan-wide index array [start, start + n) */
    double kw;         /* sum of members */
    int priority;      /* highest member's */
    double downtime_s; /* longest member's; NAN when one is unknown */
    int64_t moved_ms;  /* latest member's */
    const char *home;  /* the members' home (NULL own) */
    int home_peer;     /* its index among the peers, -1 when not a peer (or own) */
    bool stays;        /* a member keeps it here (reasons set) */
};

struct ctx {
    const struct pl_rb_workload *w;
    size_t nw;
    const struct pl_rb_peer *p;
    size_t np;
    const struct pl_rb_request *req;
    struct pl_rb_plan *plan;
    struct unit *units;
    size_t nunits;
    size_t *members;
    double *spare_left; /* per peer */
    double site;        /* this site's spare as the plan goes; NAN unknown */
    int left;           /* migrations the budget still holds */
};

static bool same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void __attribute__((format(printf, 3, 4))) reason(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* "2h05m", "3m20s", "45s": how long ago, to the second. */
static void age_text(int64_t ms, char *buf, size_t n)
{
    long long s = ms > 0 ? (long long)((ms + 999) / 1000) : 0;
    if (s >= 3600)
        snprintf(buf, n, "%lldh%02lldm", s / 3600, s / 60 % 60);
    else if (s >= 60)
        snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
    else
        snprintf(buf, n, "%llds", s);
}

static const struct pl_rb_workload *member(const struct ctx *c, const struct unit *u, size_t k)
{
    return &c->w[c->members[u->start + k]];
}

static struct pl_rb_workload_plan *member_plan(struct ctx *c, const struct unit *u, size_t k)
{
    return &c->plan->workloads[c->members[u->start + k]];
}

/* Every member of u gets the same reason. */
static void __attribute__((format(printf, 3, 4)))
unit_reason(struct ctx *c, const struct unit *u, const char *fmt, ...)
{
    char text[PL_RB_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (size_t k = 0; k < u->n; k++)
        util_strlcpy(member_plan(c, u, k)->reason, text, PL_RB_REASON_MAX);
}

static int find_peer(const struct ctx *c, const char *name)
{
    for (size_t i = 0; name && i < c->np; i++)
        if (same_name(c->p[i].name, name))
            return (int)i;
    return -1;
}

/* ---- units ---- */

static int build_units(struct ctx *c)
{
    size_t *unit_of = calloc(c->nw ? c->nw : 1, sizeof *unit_of);
    size_t *fill = calloc(c->nw ? c->nw : 1, sizeof *fill);
    c->units = calloc(c->nw ? c->nw : 1, sizeof *c->units);
    c->members = calloc(c->nw ? c->nw : 1, sizeof *c->members);
    if (!unit_of || !fill || !c->units || !c->members) {
        free(unit_of);
        free(fill);
        return -1;
    }
    for (size_t i = 0; i < c->nw; i++) {
        size_t u = c->nunits;
        for (size_t j = 0; c->w[i].group && j < i; j++)
            if (same_name(c->w[j].group, c->w[i].group)) {
                u = unit_of[j];
                break;
            }
        if (u == c->nunits)
            c->nunits++;
        unit_of[i] = u;
        c->units[u].n++;
    }
    for (size_t u = 1; u < c->nunits; u++)
        c->units[u].start = c->units[u - 1].start + c->units[u - 1].n;
    for (size_t i = 0; i < c->nw; i++) {
        struct unit *u = &c->units[unit_of[i]];
        c->members[u->start + fill[unit_of[i]]++] = i;
    }
    free(unit_of);
    free(fill);
    return 0;
}

/* Why member w keeps its unit here, or NULL. */
static bool member_stays(const struct ctx *c, const struct pl_rb_workload *w, char *why, size_t n)
{
    const struct pl_rb_request *r = c->req;
    if (w->pinned) {
        reason(why, n, "pinned");
    } else if (w->moving) {
        reason(why, n, "already moving (a migration runs, or its moved source is still kept here)");
    } else if (w->unmovable) {
        reason(why, n, "%s", w->unmovable);
    } else if (!isfinite(w->power_kw) || w->power_kw < 0) {
        reason(why, n, "power_kw unusable (%g)", w->power_kw);
    } else if (w->moved_ms > 0 && r->min_residency_ms > 0 &&
               r->now_ms - w->moved_ms < r->min_residency_ms) {
        char ago[32], residency[32], until[40];
        age_text(r->now_ms - w->moved_ms, ago, sizeof ago);
        util_format_duration(r->min_residency_ms, residency, sizeof residency);
        util_format_rfc3339((w->moved_ms + r->min_residency_ms + 999) / 1000 * 1000, until,
                            sizeof until);
        reason(why, n, "moved here %s ago, within min_residency %s: stays until %s", ago, residency,
               until);
    } else {
        return false;
    }
    return true;
}

static void judge_unit(struct ctx *c, struct unit *u)
{
    const struct pl_rb_workload *first = member(c, u, 0);
    u->priority = first->priority;
    u->downtime_s = 0;
    u->home = first->home;
    bool mixed = false;
    for (size_t k = 0; k < u->n; k++) {
        const struct pl_rb_workload *w = member(c, u, k);
        u->kw += isfinite(w->power_kw) ? w->power_kw : 0;
        if (w->priority > u->priority)
            u->priority = w->priority;
        if (!isfinite(w->downtime_s) || w->downtime_s < 0)
            u->downtime_s = NAN;
        else if (!isnan(u->downtime_s) && w->downtime_s > u->downtime_s)
            u->downtime_s = w->downtime_s;
        if (w->moved_ms > u->moved_ms)
            u->moved_ms = w->moved_ms;
        mixed |= !same_name(w->home, u->home);
    }
    u->home_peer = find_peer(c, u->home);
    for (size_t k = 0; k < u->n && !u->stays; k++) {
        char why[PL_RB_REASON_MAX];
        const struct pl_rb_workload *w = member(c, u, k);
        if (!member_stays(c, w, why, sizeof why))
            continue;
        u->stays = true;
        /* Only a real group has other members to tell (a unit of one is
         * a workload outside any group: its group is NULL). */
        for (size_t j = 0; w->group && j < u->n; j++)
            reason(member_plan(c, u, j)->reason, PL_RB_REASON_MAX,
                   "stays with group '%s' (member %s stays)", w->group, w->name);
        util_strlcpy(member_plan(c, u, k)->reason, why, PL_RB_REASON_MAX);
    }
    if (!u->stays && mixed) {
        u->stays = true;
        unit_reason(c, u,
                    "group '%s' mixes workloads of different homes: it stays (a group moves whole, "
                    "to one site)",
                    first->group);
    }
}

/* ---- order ---- */

static bool home_before(const struct ctx *c, const struct unit *a, const struct unit *b)
{
    (void)c;
    if (a->priority != b->priority)
        return a->priority < b->priority;
    if (a->moved_ms != b->moved_ms)
        return a->moved_ms < b->moved_ms;
    return a->start < b->start;
}

/* kW per minute of downtime; no downtime (a stateless move) ranks first,
 * an unknown one last. */
static double kw_per_minute(const struct unit *u)
{
    if (isnan(u->downtime_s))
        return -1;
    if (u->downtime_s <= 0)
        return INFINITY;
    return u->kw / (u->downtime_s / 60.0);
}

static bool level_before(const struct ctx *c, const struct unit *a, const struct unit *b)
{
    (void)c;
    if (a->priority != b->priority)
        return a->priority < b->priority;
    double ra = kw_per_minute(a), rb = kw_per_minute(b);
    if (ra != rb)
        return ra > rb;
    if (a->kw != b->kw)
        return a->kw > b->kw;
    return a->start < b->start;
}

/* Unit indexes in order (insertion sort: a site's workloads are few). */
static void sort_units(struct ctx *c, size_t *idx, size_t n,
                       bool (*before)(const struct ctx *, const struct unit *, const struct unit *))
{
    for (size_t i = 1; i < n; i++) {
        size_t x = idx[i], j = i;
        while (j > 0 && before(c, &c->units[x], &c->units[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = x;
    }
}

/* ---- moving ---- */

static void move_unit(struct ctx *c, struct unit *u, enum pl_rb_move move, int peer)
{
    struct pl_rb_plan *plan = c->plan;
    for (size_t k = 0; k < u->n; k++) {
        struct pl_rb_workload_plan *wp = member_plan(c, u, k);
        wp->move = move;
        wp->peer = peer;
        plan->order[plan->norder++] = c->members[u->start + k];
    }
    c->spare_left[peer] -= u->kw;
    if (!isnan(c->site))
        c->site += u->kw;
    c->left -= (int)u->n;
    struct pl_rb_peer_plan *pp = &plan->peers[peer];
    pp->planned_kw += u->kw;
    if (move == PL_RB_HOME) {
        pp->nhome += u->n;
        plan->nhome += u->n;
        plan->home_kw += u->kw;
    } else {
        pp->nlevel += u->n;
        plan->nlevel += u->n;
        plan->level_kw += u->kw;
    }
}

static void blocked(struct ctx *c, const struct unit *u)
{
    for (size_t k = 0; k < u->n; k++)
        member_plan(c, u, k)->blocked = true;
    c->plan->blocked = true;
}

static bool over_budget(struct ctx *c, const struct unit *u)
{
    if ((int)u->n <= c->left)
        return false;
    unit_reason(c, u,
                "max_migrations %d reached in this window (%d started before this decision): "
                "stays until the next window",
                c->req->max_migrations, c->req->started);
    return true;
}

static void failback(struct ctx *c, struct unit *u)
{
    if (over_budget(c, u))
        return;
    const struct pl_rb_peer *home = &c->p[u->home_peer];
    double left = c->spare_left[u->home_peer];
    if (!(u->kw > 0)) {
        /* No reservation, no migration, and a peer reserves only kW > 0. */
        unit_reason(c, u, "guest of %s: draws 0 kW, nothing to reserve at its home; stays",
                    home->name);
    } else if (!home->answered) {
        unit_reason(c, u, "guest of %s: its home did not answer (%s); stays", home->name,
                    home->problem ? home->problem : "no answer");
        blocked(c, u);
    } else if (!home->accepting) {
        unit_reason(c, u, "guest of %s: its home is not accepting work; stays", home->name);
        blocked(c, u);
    } else if (!isfinite(left) || left + KW_SLACK * fmax(1.0, fabs(left)) < u->kw) {
        unit_reason(c, u, "guest of %s: its home has %.6g kW spare left, it needs %.6g kW; stays",
                    home->name, isfinite(left) ? left : 0.0, u->kw);
        blocked(c, u);
    } else {
        unit_reason(c, u, "guest of %s: goes home (%.6g kW; the home accepts work, %.6g kW spare)",
                    home->name, u->kw, left);
        move_unit(c, u, PL_RB_HOME, u->home_peer);
    }
}

/* The usable peer with the most spare left (lowest index on a tie), -1. */
static int most_spare(const struct ctx *c)
{
    int best = -1;
    for (size_t i = 0; i < c->np; i++) {
        const struct pl_rb_peer *p = &c->p[i];
        if (!p->answered || !p->accepting || !isfinite(p->spare_kw))
            continue;
        if (best < 0 || c->spare_left[i] > c->spare_left[best])
            best = (int)i;
    }
    return best;
}

static void level(struct ctx *c, struct unit *u, const char *guest_note)
{
    double g = c->req->min_gain_kw;
    if (isnan(c->site)) {
        unit_reason(c, u,
                    "%snot levelled: this site's spare kW is unknown (a capacity input is "
                    "missing, stale or in error)",
                    guest_note);
        blocked(c, u);
        return;
    }
    int best = most_spare(c);
    if (best < 0) {
        unit_reason(c, u, "%snot levelled: no peer answered and accepts work", guest_note);
        blocked(c, u);
        return;
    }
    if (over_budget(c, u))
        return;
    const char *name = c->p[best].name;
    double peer = c->spare_left[best], site = c->site, diff = peer - site;
    if (!(diff > g)) {
        unit_reason(c, u,
                    "%sstays: the most spare is %s's %.6g kW, this site has %.6g kW (difference "
                    "%.6g kW, not more than min_gain_kw %.6g)",
                    guest_note, name, peer, site, diff, g);
        return;
    }
    double peer_after = peer - u->kw, site_after = site + u->kw;
    if (!(u->kw > 0)) {
        unit_reason(c, u, "%sstays: it draws 0 kW, moving it levels nothing", guest_note);
        return;
    }
    if (site_after - peer_after > g + KW_SLACK * fmax(1.0, fabs(g)) || peer_after < 0) {
        unit_reason(c, u,
                    "%sstays: moving %.6g kW to %s would leave it %.6g kW spare and this site "
                    "%.6g kW, %.6g kW the other way round, more than min_gain_kw %.6g (it would "
                    "come back)",
                    guest_note, u->kw, name, peer_after, site_after, site_after - peer_after, g);
        return;
    }
    unit_reason(c, u,
                "%slevels load: %s has %.6g kW spare, this site %.6g kW (difference %.6g kW, more "
                "than min_gain_kw %.6g); after the move %.6g and %.6g kW (difference %.6g kW)",
                guest_note, name, peer, site, diff, g, peer_after, site_after,
                peer_after - site_after);
    move_unit(c, u, PL_RB_LEVEL, best);
}

/* ---- peers ---- */

static void peer_reasons(struct ctx *c, double site_before)
{
    double g = c->req->min_gain_kw;
    for (size_t i = 0; i < c->np; i++) {
        const struct pl_rb_peer *p = &c->p[i];
        struct pl_rb_peer_plan *pp = &c->plan->peers[i];
        if (!p->answered) {
            reason(pp->reason, sizeof pp->reason, "skipped: %s",
                   p->problem ? p->problem : "did not answer");
        } else if (!p->accepting) {
            reason(pp->reason, sizeof pp->reason, "skipped: not accepting work");
        } else if (!isfinite(p->spare_kw)) {
            reason(pp->reason, sizeof pp->reason, "skipped: spare_kw unusable (%g)", p->spare_kw);
        } else if (pp->nhome && pp->nlevel) {
            reason(pp->reason, sizeof pp->reason,
                   "takes back %zu guest(s) and %zu levelled workload(s), %.6g of %.6g kW spare",
                   pp->nhome, pp->nlevel, pp->planned_kw, p->spare_kw);
        } else if (pp->nhome) {
            reason(pp->reason, sizeof pp->reason,
                   "home: takes back %zu guest(s), %.6g of %.6g kW spare", pp->nhome,
                   pp->planned_kw, p->spare_kw);
        } else if (pp->nlevel) {
            reason(pp->reason, sizeof pp->reason,
                   "takes %zu workload(s) to level load, %.6g of %.6g kW spare", pp->nlevel,
                   pp->planned_kw, p->spare_kw);
        } else if (!isnan(site_before) && !(c->spare_left[i] - c->site > g)) {
            reason(pp->reason, sizeof pp->reason,
                   "nothing moved there: %.6g kW spare is not more than min_gain_kw %.6g above "
                   "this site's %.6g kW",
                   c->spare_left[i], g, c->site);
        } else {
            reason(pp->reason, sizeof pp->reason, "nothing moved there (%.6g kW spare)",
                   c->spare_left[i]);
        }
    }
}

static void summarise(struct ctx *c, double site_before, size_t nstay_blocked)
{
    struct pl_rb_plan *plan = c->plan;
    char spare[96] = "";
    if (!isnan(site_before))
        snprintf(spare, sizeof spare, "; this site's spare %.6g -> %.6g kW", site_before,
                 plan->site_spare_after_kw);
    char home[64] = "", level[64] = "";
    if (plan->nhome)
        snprintf(home, sizeof home, "%zu guest(s) home (%.6g kW)", plan->nhome, plan->home_kw);
    if (plan->nlevel)
        snprintf(level, sizeof level, "%s%zu workload(s) levelled (%.6g kW)",
                 plan->nhome ? ", " : "", plan->nlevel, plan->level_kw);
    if (plan->norder > 0)
        reason(plan->summary, sizeof plan->summary, "%s%s%s", home, level, spare);
    else if (nstay_blocked)
        reason(plan->summary, sizeof plan->summary,
               "nothing moves: %zu workload(s) should move and cannot now (their reasons say why)",
               nstay_blocked);
    else if (c->req->started >= c->req->max_migrations)
        reason(plan->summary, sizeof plan->summary,
               "nothing moves: max_migrations %d already started in this window",
               c->req->max_migrations);
    else
        reason(plan->summary, sizeof plan->summary,
               "nothing to rebalance: no guest due home, no peer with more than min_gain_kw %.6g "
               "kW more spare than this site%s",
               c->req->min_gain_kw, spare);
}

/* ---- the plan ---- */

void pl_rb_plan_clear(struct pl_rb_plan *p)
{
    if (!p)
        return;
    free(p->workloads);
    free(p->peers);
    free(p->order);
    memset(p, 0, sizeof *p);
}

int pl_rebalance(const struct pl_rb_workload *workloads, size_t nworkloads,
                 const struct pl_rb_peer *peers, size_t npeers, const struct pl_rb_request *req,
                 struct pl_rb_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct ctx c = {
        .w = workloads, .nw = nworkloads, .p = peers, .np = npeers, .req = req, .plan = out};
    size_t *idx = NULL;
    out->workloads = calloc(nworkloads ? nworkloads : 1, sizeof *out->workloads);
    out->peers = calloc(npeers ? npeers : 1, sizeof *out->peers);
    out->order = calloc(nworkloads ? nworkloads : 1, sizeof *out->order);
    c.spare_left = calloc(npeers ? npeers : 1, sizeof *c.spare_left);
    idx = calloc(nworkloads ? nworkloads : 1, sizeof *idx);
    if (!out->workloads || !out->peers || !out->order || !c.spare_left || !idx ||
        build_units(&c) != 0)
        goto oom;
    out->nworkloads = nworkloads;
    out->npeers = npeers;
    for (size_t i = 0; i < nworkloads; i++)
        out->workloads[i].peer = -1;
    for (size_t i = 0; i < npeers; i++)
        c.spare_left[i] = peers[i].spare_kw;
    int budget = req->max_migrations - req->started;
    out->budget = budget > 0 ? budget : 0;
    c.left = out->budget;
    double site_before = isfinite(req->site_spare_kw) ? req->site_spare_kw : NAN;
    c.site = site_before;

    for (size_t u = 0; u < c.nunits; u++)
        judge_unit(&c, &c.units[u]);

    /* 1. guests whose home is a peer go home */
    size_t n = 0;
    for (size_t u = 0; u < c.nunits; u++)
        if (!c.units[u].stays && c.units[u].home && c.units[u].home_peer >= 0)
            idx[n++] = u;
    sort_units(&c, idx, n, home_before);
    for (size_t k = 0; k < n; k++)
        failback(&c, &c.units[idx[k]]);

    /* 2. own workloads (and guests of sites that are not peers) level */
    n = 0;
    for (size_t u = 0; u < c.nunits; u++)
        if (!c.units[u].stays && c.units[u].home_peer < 0)
            idx[n++] = u;
    sort_units(&c, idx, n, level_before);
    for (size_t k = 0; k < n; k++) {
        struct unit *u = &c.units[idx[k]];
        char note[PL_RB_REASON_MAX / 2] = "";
        if (u->home)
            snprintf(note, sizeof note, "guest of %s, which is not a peer here: ", u->home);
        level(&c, u, note);
    }

    out->site_spare_after_kw = c.site;
    peer_reasons(&c, site_before);
    size_t nblocked = 0;
    for (size_t i = 0; i < nworkloads; i++)
        nblocked += out->workloads[i].blocked;
    summarise(&c, site_before, nblocked);
    free(c.units);
    free(c.members);
    free(c.spare_left);
    free(idx);
    return 0;
oom:
    free(c.units);
    free(c.members);
    free(c.spare_left);
    free(idx);
    pl_rb_plan_clear(out);
    return errf(err, errlen, "out of memory");
}

/* ---- a workload's home from the site's records ---- */

/* The order of events: time, then a move away before an arrival, then
 * input order. */
static bool event_before(const struct pl_rb_event *ev, size_t a, size_t b)
{
    if (ev[a].ts_ms != ev[b].ts_ms)
        return ev[a].ts_ms < ev[b].ts_ms;
    if (ev[a].arrived != ev[b].arrived)
        return !ev[a].arrived;
    return a < b;
}

void pl_rb_history(const struct pl_rb_event *events, size_t n, const char *ns, const char **home,
                   int64_t *moved_ms, bool *named)
{
    *home = NULL;
    *moved_ms = 0;
    bool by_name = false;
    const char *went_to = NULL; /* the last move was from here to this peer */
    /* Each round takes the first event after the one taken before: no
     * sorting, no allocation (a namespace has few records). */
    size_t last = (size_t)-1;
    for (;;) {
        size_t next = (size_t)-1;
        for (size_t i = 0; i < n; i++) {
            if (!same_name(events[i].namespace_, ns))
                continue;
            if (last != (size_t)-1 && !event_before(events, last, i))
                continue;
            if (next == (size_t)-1 || event_before(events, i, next))
                next = i;
        }
        if (next == (size_t)-1)
            break;
        const struct pl_rb_event *e = &events[next];
        if (e->arrived && e->home) {
            *home = e->home;
            by_name = true;
            went_to = NULL;
        } else if (e->arrived) {
            if (!(went_to && same_name(went_to, e->peer))) {
                *home = e->peer;
                by_name = false;
            }
            went_to = NULL;
        } else {
            went_to = e->peer;
        }
        *moved_ms = e->ts_ms;
        last = next;
    }
    if (named)
        *named = by_name;
}
