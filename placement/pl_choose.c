/*
 * pl_choose — the placement choice of SPEC 3.3; the rules are in
 * pl_choose.h. The file reads top-down: workloads become units (groups
 * merged, the ineligible left with a reason), units are ordered, the
 * search picks a set and its peers, and the reasons are written last.
 */
#include "placement/pl_choose.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define NONE SIZE_MAX

/* A workload alone, or all members of one group. */
struct unit {
    size_t mstart, nmembers; /* its workloads: members[mstart ..] (input order) */
    double kw, downtime_s, migration_s;
    int priority;
    bool late;
    double kw_per_min; /* kW per minute of downtime; INFINITY without downtime */
    size_t blocker;    /* a member that is no candidate (keeps the group), or NONE */
    size_t held_by;    /* a member already reserved (reserved_at), or NONE */
    int held_peer;     /* its reserved peer (input index) */
    bool candidate;    /* takes part in the search */
    bool chosen;
    int peer; /* input index when chosen */
};

/* Everything one call works on; freed in one place. */
struct ctx {
    const struct pl_workload *w;
    size_t nw;
    const struct pl_peer *p;
    size_t np;
    double need, deadline_s, tol;
    struct pl_choice *out;
    bool *usable;        /* per peer */
    double *spare;       /* per peer: spare left for new placements */
    int *reserved_peer;  /* per workload: index of reserved_at, or -1 */
    const char **clause; /* per workload: why it keeps its group, or NULL */
    size_t *members;     /* workload indexes grouped by unit */
    struct unit *units;
    size_t nunits;
    size_t *cand; /* candidate units, in choice order */
    size_t ncand;
    double held_kw;
};

/* ---- text --------------------------------------------------------------- */

/* kW as people write it: "52", "4.2". */
static const char *kw_text(double v, char *buf, size_t n)
{
    snprintf(buf, n, "%.1f", v);
    size_t len = strlen(buf);
    if (len >= 2 && strcmp(buf + len - 2, ".0") == 0)
        buf[len - 2] = '\0';
    if (strcmp(buf, "-0") == 0)
        snprintf(buf, n, "0");
    return buf;
}

static const char *duration_text(double s, char *buf, size_t n)
{
    if (s < 60)
        snprintf(buf, n, "%.0f s", s);
    else
        snprintf(buf, n, "%.0f min", s / 60);
    return buf;
}

static const char *name_of(const char *s)
{
    return s ? s : "?";
}

static void reason(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(char *dst, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, PL_REASON_MAX, fmt, ap);
    va_end(ap);
}

/* Appends to a reason; what does not fit is cut. */
static void reason_add(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason_add(char *dst, const char *fmt, ...)
{
    size_t len = strlen(dst);
    if (len + 1 >= PL_REASON_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst + len, PL_REASON_MAX - len, fmt, ap);
    va_end(ap);
}

/* ---- peers -------------------------------------------------------------- */

static void classify_peers(struct ctx *c)
{
    char a[32];
    for (size_t j = 0; j < c->np; j++) {
        const struct pl_peer *p = &c->p[j];
        char *r = c->out->peers[j].reason;
        if (p->problem)
            reason(r, "%s", p->problem);
        else if (!p->answered)
            reason(r, "did not answer");
        else if (!p->accepting)
            reason(r, "not accepting");
        else if (!isfinite(p->spare_kw))
            reason(r, "spare_kw unusable (%g)", p->spare_kw);
        else if (p->spare_kw <= 0)
            reason(r, p->spare_kw < 0 ? "no spare (%s kW)" : "no spare",
                   kw_text(p->spare_kw, a, sizeof a));
        else {
            c->usable[j] = true;
            c->spare[j] = p->spare_kw;
        }
    }
}

static int find_reserved_peers(struct ctx *c, char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nw; i++) {
        c->reserved_peer[i] = -1;
        const char *at = c->w[i].reserved_at;
        if (!at)
            continue;
        for (size_t j = 0; j < c->np && c->reserved_peer[i] < 0; j++)
            if (c->p[j].name && strcmp(c->p[j].name, at) == 0)
                c->reserved_peer[i] = (int)j;
        if (c->reserved_peer[i] < 0)
            return errf(err, errlen, "workloads[%zu] (%s).reserved_at: no peer named '%s'", i,
                        name_of(c->w[i].name), at);
    }
    return 0;
}

/* ---- workloads and units ------------------------------------------------ */

static bool usable_number(double v)
{
    return isfinite(v) && v >= 0;
}

/* Fills the reason of a workload that is no candidate on its own, and the
 * clause its group's other members quote; returns false for a candidate. */
static bool left_alone(struct ctx *c, size_t i)
{
    const struct pl_workload *w = &c->w[i];
    char *r = c->out->workloads[i].reason;
    if (w->pinned) {
        reason(r, "pinned");
        c->clause[i] = "is pinned";
    } else if (w->moving) {
        reason(r, "already moving");
        c->clause[i] = "is already moving";
    } else if (w->unmovable) {
        reason(r, "%s", w->unmovable);
        c->clause[i] = "is unmovable";
    } else if (!usable_number(w->power_kw)) {
        reason(r, "power_kw unusable (%g)", w->power_kw);
        c->clause[i] = "has unusable power_kw";
    } else if (!w->stateless && !usable_number(w->downtime_s)) {
        reason(r, "downtime_s unusable (%g)", w->downtime_s);
        c->clause[i] = "has an unusable downtime estimate";
    } else if (!usable_number(w->migration_s)) {
        reason(r, "migration_s unusable (%g)", w->migration_s);
        c->clause[i] = "has an unusable migration estimate";
    } else {
        return false;
    }
    return true;
}

struct group_key {
    const char *group;
    size_t index;
};

/* Ungrouped workloads first, each on its own; then by group, members in
 * input order. */
static int cmp_group_key(const void *a, const void *b)
{
    const struct group_key *x = a, *y = b;
    if (x->group && y->group) {
        int d = strcmp(x->group, y->group);
        if (d)
            return d;
    } else if (x->group || y->group) {
        return x->group ? 1 : -1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

static void unit_add_member(struct ctx *c, struct unit *u, size_t i)
{
    const struct pl_workload *w = &c->w[i];
    c->members[u->mstart + u->nmembers++] = i;
    if (c->clause[i]) {
        if (u->blocker == NONE)
            u->blocker = i;
        return;
    }
    u->kw += w->power_kw;
    double down = w->stateless ? 0 : w->downtime_s;
    if (u->nmembers == 1 || w->priority > u->priority)
        u->priority = w->priority;
    u->downtime_s = fmax(u->downtime_s, down);
    u->migration_s = fmax(u->migration_s, w->migration_s);
    if (c->reserved_peer[i] >= 0 && u->held_by == NONE) {
        u->held_by = i;
        u->held_peer = c->reserved_peer[i];
    }
}

static int build_units(struct ctx *c)
{
    struct group_key *keys = calloc(c->nw ? c->nw : 1, sizeof *keys);
    if (!keys)
        return -1;
    for (size_t i = 0; i < c->nw; i++) {
        keys[i] = (struct group_key){c->w[i].group, i};
        left_alone(c, i);
    }
    qsort(keys, c->nw, sizeof *keys, cmp_group_key);
    for (size_t k = 0; k < c->nw; k++) {
        bool joins = k > 0 && keys[k].group && keys[k - 1].group &&
                     strcmp(keys[k].group, keys[k - 1].group) == 0;
        if (!joins)
            c->units[c->nunits++] = (struct unit){
                .mstart = k, .blocker = NONE, .held_by = NONE, .held_peer = -1, .peer = -1};
        unit_add_member(c, &c->units[c->nunits - 1], keys[k].index);
    }
    free(keys);
    for (size_t u = 0; u < c->nunits; u++) {
        struct unit *un = &c->units[u];
        un->late = c->deadline_s > 0 && un->migration_s > c->deadline_s;
        un->kw_per_min = un->downtime_s > 0 ? un->kw / (un->downtime_s / 60) : INFINITY;
    }
    return 0;
}

static size_t first_member(const struct ctx *c, const struct unit *u)
{
    return c->members[u->mstart];
}

static const char *group_of(const struct ctx *c, const struct unit *u)
{
    return c->w[first_member(c, u)].group;
}

/* The choice order of pl_choose.h; qsort has no context argument, so the
 * comparison reads each unit through its entry here. */
struct ranked {
    const struct unit *u;
    size_t index;
    size_t first;
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct unit *x = ((const struct ranked *)a)->u, *y = ((const struct ranked *)b)->u;
    if (x->late != y->late)
        return x->late ? 1 : -1;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    if (x->kw_per_min != y->kw_per_min)
        return x->kw_per_min > y->kw_per_min ? -1 : 1;
    if (x->kw != y->kw)
        return x->kw > y->kw ? -1 : 1;
    size_t fx = ((const struct ranked *)a)->first, fy = ((const struct ranked *)b)->first;
    return fx < fy ? -1 : fx > fy;
}

/* ---- the search --------------------------------------------------------- */

struct search {
    size_t k, m;
    double *kw;         /* [k] the candidate units' kW, in choice order */
    const double *cap;  /* [m] the usable peers' spare */
    double *suffix;     /* [k+1] kW of units i.. */
    double *suffix_min; /* [k+1] smallest kW among units i.. */
    int *at;            /* [k] usable peer of a taken unit, -1 = not taken */
    double *rem;        /* [m] spare left */
    double rem_total, sum, start_sum;
    double need, lo, hi, tol;
    double best_cover, best_partial;
    long steps, max_steps;
    bool out_of_steps;
    /* Per unit index, the state before it was taken (undo). */
    double *saved_rem; /* [k*m] */
    double *saved_sum, *saved_rem_total;
    int *saved_at; /* [k*k], only when taking it repacked the peers */
    bool *repacked;
    /* The exact packing check's scratch. */
    size_t *pack_items;
    double *pack_rest; /* [k+1] kW of items t.. */
    int *pack_at;
    double *pack_rem;
};

static bool step(struct search *s)
{
    if (s->steps >= s->max_steps) {
        s->out_of_steps = true;
        return false;
    }
    s->steps++;
    return true;
}

static int most_spare(const double *rem, size_t m)
{
    int best = -1;
    for (size_t j = 0; j < m; j++)
        if (best < 0 || rem[j] > rem[best])
            best = (int)j;
    return best;
}

/* Puts items t.. into pack_rem's peers: each tries the peers from the most
 * spare down, skipping a peer with the same spare left as one already
 * tried (interchangeable for the items still to place). */
static bool pack_rec(struct search *s, size_t t, size_t n)
{
    if (t == n)
        return true;
    if (!step(s))
        return false;
    double room = 0;
    for (size_t j = 0; j < s->m; j++)
        room += s->pack_rem[j];
    if (s->pack_rest[t] > room + s->tol)
        return false;
    size_t item = s->pack_items[t];
    double w = s->kw[item], tried = INFINITY;
    for (;;) {
        int best = -1;
        for (size_t j = 0; j < s->m; j++)
            if (s->pack_rem[j] < tried && (best < 0 || s->pack_rem[j] > s->pack_rem[best]))
                best = (int)j;
        if (best < 0 || w > s->pack_rem[best] + s->tol)
            return false;
        tried = s->pack_rem[best];
        s->pack_rem[best] = tried - w;
        s->pack_at[item] = best;
        if (pack_rec(s, t + 1, n))
            return true;
        s->pack_rem[best] = tried;
        if (s->out_of_steps)
            return false;
    }
}

/* Can the taken units plus unit i share the peers in some other way?
 * Fills pack_at and pack_rem when they can. Items go largest first. */
static bool repack(struct search *s, size_t i)
{
    size_t n = 0;
    for (size_t j = 0; j <= i; j++) {
        if (j < i && s->at[j] < 0)
            continue;
        size_t pos = n++;
        while (pos > 0 && s->kw[s->pack_items[pos - 1]] < s->kw[j]) {
            s->pack_items[pos] = s->pack_items[pos - 1];
            pos--;
        }
        s->pack_items[pos] = j;
    }
    s->pack_rest[n] = 0;
    for (size_t t = n; t-- > 0;)
        s->pack_rest[t] = s->pack_rest[t + 1] + s->kw[s->pack_items[t]];
    memcpy(s->pack_rem, s->cap, s->m * sizeof *s->cap);
    return pack_rec(s, 0, n);
}

/* Takes unit i on the most-spare peer, or by repacking; false when no
 * assignment fits it with the units already taken. */
static bool take(struct search *s, size_t i)
{
    int j = most_spare(s->rem, s->m);
    memcpy(s->saved_rem + i * s->m, s->rem, s->m * sizeof *s->rem);
    s->saved_sum[i] = s->sum;
    s->saved_rem_total[i] = s->rem_total;
    s->repacked[i] = false;
    if (j >= 0 && s->kw[i] <= s->rem[j] + s->tol) {
        s->rem[j] -= s->kw[i];
        s->at[i] = j;
    } else {
        if (!repack(s, i))
            return false;
        memcpy(s->saved_at + i * s->k, s->at, i * sizeof *s->at);
        for (size_t u = 0; u <= i; u++)
            if (u == i || s->at[u] >= 0)
                s->at[u] = s->pack_at[u];
        memcpy(s->rem, s->pack_rem, s->m * sizeof *s->rem);
        s->repacked[i] = true;
    }
    s->sum += s->kw[i];
    s->rem_total -= s->kw[i];
    return true;
}

static void untake(struct search *s, size_t i)
{
    memcpy(s->rem, s->saved_rem + i * s->m, s->m * sizeof *s->rem);
    if (s->repacked[i])
        memcpy(s->at, s->saved_at + i * s->k, i * sizeof *s->at);
    s->at[i] = -1;
    s->sum = s->saved_sum[i];
    s->rem_total = s->saved_rem_total[i];
}

/* The first set in choice order with lo <= kW <= hi: include before
 * exclude, a leaf as soon as kW reaches lo. The set found stays in s->at. */
static bool first_rec(struct search *s, size_t i)
{
    if (s->sum >= s->lo - s->tol)
        return true;
    if (i == s->k || !step(s))
        return false;
    if (s->sum + fmin(s->suffix[i], s->rem_total) < s->lo - s->tol)
        return false;
    if (s->sum + s->kw[i] <= s->hi + s->tol && take(s, i)) {
        if (first_rec(s, i + 1))
            return true;
        untake(s, i);
    }
    if (s->out_of_steps)
        return false;
    return first_rec(s, i + 1);
}

/* The least kW of a placeable cover (best_cover), and while none is known
 * the most kW of a placeable set (best_partial). */
static void best_rec(struct search *s, size_t i)
{
    if (s->sum >= s->need - s->tol) {
        s->best_cover = fmin(s->best_cover, s->sum);
        return;
    }
    s->best_partial = fmax(s->best_partial, s->sum);
    if (i == s->k || !step(s))
        return;
    double reach = s->sum + fmin(s->suffix[i], s->rem_total);
    if (reach < s->need - s->tol) {
        if (isfinite(s->best_cover) || reach <= s->best_partial + s->tol)
            return;
    } else if (s->sum + s->suffix_min[i] >= s->best_cover - s->tol) {
        return;
    }
    if (s->sum + s->kw[i] < s->best_cover - s->tol && take(s, i)) {
        best_rec(s, i + 1);
        untake(s, i);
    }
    if (s->out_of_steps)
        return;
    best_rec(s, i + 1);
}

static void search_reset(struct search *s)
{
    for (size_t i = 0; i < s->k; i++)
        s->at[i] = -1;
    memcpy(s->rem, s->cap, s->m * sizeof *s->cap);
    s->rem_total = 0;
    for (size_t j = 0; j < s->m; j++)
        s->rem_total += s->cap[j];
    s->sum = s->start_sum;
}

/* The rule of pl_choose.h. Returns false when the steps ran out. */
static bool search_exact(struct search *s)
{
    search_reset(s);
    s->lo = s->need;
    s->hi = s->need * (1 + PL_OVER_SHED);
    if (first_rec(s, 0))
        return true;
    if (s->out_of_steps)
        return false;
    s->best_cover = INFINITY;
    s->best_partial = s->start_sum;
    best_rec(s, 0);
    if (s->out_of_steps)
        return false;
    search_reset(s);
    if (isfinite(s->best_cover)) {
        s->hi = fmax(s->hi, s->best_cover);
    } else if (s->best_partial > s->start_sum + s->tol) {
        s->lo = s->best_partial;
        s->hi = INFINITY;
    } else {
        return true; /* nothing fits anywhere: the empty set */
    }
    /* best_rec proved such a set exists, so this finds one unless the
     * steps run out. */
    return first_rec(s, 0);
}

static void search_greedy(struct search *s)
{
    search_reset(s);
    for (size_t i = 0; i < s->k && s->sum < s->need - s->tol; i++) {
        int j = most_spare(s->rem, s->m);
        if (j >= 0 && s->kw[i] <= s->rem[j] + s->tol) {
            s->rem[j] -= s->kw[i];
            s->at[i] = j;
            s->sum += s->kw[i];
        }
    }
}

/* SPEC's drop pass, from the last chosen unit back. */
static void drop_pass(struct search *s)
{
    s->sum = s->start_sum;
    for (size_t i = 0; i < s->k; i++)
        if (s->at[i] >= 0)
            s->sum += s->kw[i];
    for (size_t i = s->k; i-- > 0;)
        if (s->at[i] >= 0 && s->sum - s->kw[i] >= s->need - s->tol) {
            s->at[i] = -1;
            s->sum -= s->kw[i];
        }
}

/* Each taken unit on the most-spare peer in choice order, when that fits
 * them all; else the search's assignment stays. Leaves rem as placed. */
static void place_most_spare(struct search *s)
{
    memcpy(s->rem, s->cap, s->m * sizeof *s->cap);
    bool fits = true;
    for (size_t i = 0; i < s->k && fits; i++) {
        if (s->at[i] < 0)
            continue;
        int j = most_spare(s->rem, s->m);
        fits = j >= 0 && s->kw[i] <= s->rem[j] + s->tol;
        if (fits) {
            s->rem[j] -= s->kw[i];
            s->pack_at[i] = j;
        }
    }
    if (fits)
        for (size_t i = 0; i < s->k; i++)
            if (s->at[i] >= 0)
                s->at[i] = s->pack_at[i];
    memcpy(s->rem, s->cap, s->m * sizeof *s->cap);
    for (size_t i = 0; i < s->k; i++)
        if (s->at[i] >= 0)
            s->rem[s->at[i]] -= s->kw[i];
}

static void search_free(struct search *s)
{
    free(s->kw);
    free(s->suffix);
    free(s->suffix_min);
    free(s->at);
    free(s->rem);
    free(s->saved_rem);
    free(s->saved_sum);
    free(s->saved_rem_total);
    free(s->saved_at);
    free(s->repacked);
    free(s->pack_items);
    free(s->pack_rest);
    free(s->pack_at);
    free(s->pack_rem);
}

static int search_alloc(struct search *s, size_t k, size_t m)
{
    size_t k1 = k + 1, m1 = m ? m : 1;
    bool exact = k <= PL_EXACT_MAX_UNITS;
    s->k = k;
    s->m = m;
    s->kw = calloc(k1, sizeof *s->kw);
    s->suffix = calloc(k1, sizeof *s->suffix);
    s->suffix_min = calloc(k1, sizeof *s->suffix_min);
    s->at = calloc(k1, sizeof *s->at);
    s->rem = calloc(m1, sizeof *s->rem);
    s->pack_at = calloc(k1, sizeof *s->pack_at);
    /* The exact search's undo records (k is bounded there). */
    s->saved_rem = calloc(exact ? k1 * m1 : 1, sizeof *s->saved_rem);
    s->saved_sum = calloc(k1, sizeof *s->saved_sum);
    s->saved_rem_total = calloc(k1, sizeof *s->saved_rem_total);
    s->saved_at = calloc(exact ? k1 * k1 : 1, sizeof *s->saved_at);
    s->repacked = calloc(k1, sizeof *s->repacked);
    s->pack_items = calloc(k1, sizeof *s->pack_items);
    s->pack_rest = calloc(k1, sizeof *s->pack_rest);
    s->pack_rem = calloc(m1, sizeof *s->pack_rem);
    if (!s->kw || !s->suffix || !s->suffix_min || !s->at || !s->rem || !s->pack_at ||
        !s->saved_rem || !s->saved_sum || !s->saved_rem_total || !s->saved_at || !s->repacked ||
        !s->pack_items || !s->pack_rest || !s->pack_rem)
        return -1;
    return 0;
}

/* Chooses among the candidate units and places them on the usable peers
 * (c->spare, already lowered by the reserved groups' other members);
 * leaves in c->spare what each peer has left. */
static int choose_units(struct ctx *c, long max_steps)
{
    struct search s = {0};
    size_t *peer_of = calloc(c->np ? c->np : 1, sizeof *peer_of);
    double *cap = calloc(c->np ? c->np : 1, sizeof *cap);
    size_t m = 0;
    int rc = -1;
    if (!peer_of || !cap)
        goto done;
    for (size_t j = 0; j < c->np; j++)
        if (c->usable[j] && c->spare[j] > 0) {
            peer_of[m] = j;
            cap[m++] = c->spare[j];
        }
    if (search_alloc(&s, c->ncand, m) < 0)
        goto done;
    s.cap = cap;
    s.need = c->need;
    s.tol = c->tol;
    s.start_sum = c->held_kw;
    s.max_steps = max_steps;
    s.suffix[c->ncand] = 0;
    s.suffix_min[c->ncand] = INFINITY;
    for (size_t i = c->ncand; i-- > 0;) {
        s.kw[i] = c->units[c->cand[i]].kw;
        s.suffix[i] = s.suffix[i + 1] + s.kw[i];
        s.suffix_min[i] = fmin(s.suffix_min[i + 1], s.kw[i]);
    }
    c->out->exact = c->ncand <= PL_EXACT_MAX_UNITS && search_exact(&s);
    if (!c->out->exact)
        search_greedy(&s);
    drop_pass(&s);
    place_most_spare(&s);
    c->out->steps = s.steps;
    for (size_t i = 0; i < c->ncand; i++) {
        struct unit *u = &c->units[c->cand[i]];
        u->chosen = s.at[i] >= 0;
        u->peer = u->chosen ? (int)peer_of[s.at[i]] : -1;
    }
    for (size_t j = 0; j < m; j++)
        c->spare[peer_of[j]] = s.rem[j];
    rc = 0;
done:
    search_free(&s);
    free(cap);
    free(peer_of);
    return rc;
}

/* ---- reserved groups and candidates ------------------------------------- */

/* A unit this decision already holds a reservation for stays chosen where
 * it is; its members without a reservation (a group reserved halfway) go
 * to the same peer, or the whole unit is given up for release. */
static void keep_reserved(struct ctx *c, struct unit *u)
{
    if (u->blocker != NONE)
        return;
    int j = u->held_peer;
    double extra = 0;
    for (size_t k = 0; k < u->nmembers; k++) {
        size_t i = c->members[u->mstart + k];
        if (c->reserved_peer[i] < 0)
            extra += c->w[i].power_kw;
    }
    if (extra > 0 && !(c->usable[j] && extra <= c->spare[j] + c->tol)) {
        char a[32], b[32];
        for (size_t k = 0; k < u->nmembers; k++)
            reason(c->out->workloads[c->members[u->mstart + k]].reason,
                   "group '%s' no longer fits %s (%s kW more, %s spare): release its reservations",
                   name_of(group_of(c, u)), name_of(c->p[j].name), kw_text(extra, a, sizeof a),
                   kw_text(c->usable[j] ? c->spare[j] : 0, b, sizeof b));
        return;
    }
    if (extra > 0)
        c->spare[j] -= extra;
    u->chosen = true;
    u->peer = j;
    c->held_kw += u->kw;
}

static double largest_spare(const struct ctx *c)
{
    double largest = 0;
    for (size_t j = 0; j < c->np; j++)
        if (c->usable[j])
            largest = fmax(largest, c->spare[j]);
    return largest;
}

/* " for group 'g'" when the unit is a group of several, else "". */
static void group_note(const struct ctx *c, const struct unit *u, char *buf, size_t n)
{
    buf[0] = '\0';
    if (u->nmembers > 1)
        snprintf(buf, n, " for group '%s'", name_of(group_of(c, u)));
}

/* Same reason for every member of a unit. */
static void unit_reason(struct ctx *c, const struct unit *u, const char *text)
{
    for (size_t k = 0; k < u->nmembers; k++)
        snprintf(c->out->workloads[c->members[u->mstart + k]].reason, PL_REASON_MAX, "%s", text);
}

/* Units that take part in the search, in choice order; the others say why
 * not. */
static int pick_candidates(struct ctx *c)
{
    struct ranked *r = calloc(c->nunits ? c->nunits : 1, sizeof *r);
    if (!r)
        return -1;
    double largest = largest_spare(c);
    bool any_usable = false;
    for (size_t j = 0; j < c->np; j++)
        any_usable = any_usable || c->usable[j];
    char a[32], b[32], g[PL_REASON_MAX], text[PL_REASON_MAX];
    size_t n = 0;
    for (size_t k = 0; k < c->nunits; k++) {
        struct unit *u = &c->units[k];
        if (u->blocker != NONE || u->held_by != NONE)
            continue;
        group_note(c, u, g, sizeof g);
        if (u->kw <= 0) {
            snprintf(text, sizeof text, "0 kW%s: moving it sheds nothing", g);
            unit_reason(c, u, text);
        } else if (u->kw > largest + c->tol) {
            if (any_usable)
                snprintf(text, sizeof text, "no peer has %s kW spare%s (largest %s kW)",
                         kw_text(u->kw, a, sizeof a), g, kw_text(largest, b, sizeof b));
            else
                snprintf(text, sizeof text, "no peer has %s kW spare%s (no usable peer)",
                         kw_text(u->kw, a, sizeof a), g);
            unit_reason(c, u, text);
        } else {
            u->candidate = true;
            r[n++] = (struct ranked){u, k, first_member(c, u)};
        }
    }
    qsort(r, n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < n; i++)
        c->cand[i] = r[i].index;
    c->ncand = n;
    free(r);
    return 0;
}

/* ---- reasons ------------------------------------------------------------ */

static void blocked_reasons(struct ctx *c, const struct unit *u)
{
    if (u->nmembers < 2)
        return;
    const char *g = name_of(group_of(c, u));
    size_t b = u->blocker;
    for (size_t k = 0; k < u->nmembers; k++) {
        size_t i = c->members[u->mstart + k];
        char *r = c->out->workloads[i].reason;
        if (c->clause[i])
            reason_add(r, " (keeps group '%s')", g);
        else
            reason(r, "group '%s' left whole because member %s %s", g, name_of(c->w[b].name),
                   c->clause[b]);
    }
}

static void taken_reason(struct ctx *c, const struct unit *u)
{
    char text[PL_REASON_MAX], a[32], b[32];
    text[0] = '\0';
    if (u->nmembers > 1)
        reason_add(text, "group '%s' (%zu workloads, %s kW), ", name_of(group_of(c, u)),
                   u->nmembers, kw_text(u->kw, a, sizeof a));
    reason_add(text, "priority %d, ", u->priority);
    bool stateless = true;
    for (size_t k = 0; k < u->nmembers; k++)
        stateless = stateless && c->w[c->members[u->mstart + k]].stateless;
    if (u->downtime_s > 0)
        reason_add(text, "%s kW per minute of downtime", kw_text(u->kw_per_min, a, sizeof a));
    else
        reason_add(text, stateless ? "stateless: no downtime" : "no downtime expected");
    if (u->late)
        reason_add(text, "; ends after the deadline (%s > %s) but needed",
                   duration_text(u->migration_s, a, sizeof a),
                   duration_text(c->deadline_s, b, sizeof b));
    unit_reason(c, u, text);
}

static void left_reason(struct ctx *c, const struct unit *u, bool covered, double largest_left)
{
    char text[PL_REASON_MAX], a[32], b[32], cov[32], need[32], g[PL_REASON_MAX];
    kw_text(c->out->covered_kw, cov, sizeof cov);
    kw_text(c->need, need, sizeof need);
    if (covered && u->late)
        snprintf(text, sizeof text,
                 "ends after the deadline (%s > %s); the others cover %s of %s kW",
                 duration_text(u->migration_s, a, sizeof a),
                 duration_text(c->deadline_s, b, sizeof b), cov, need);
    else if (covered)
        snprintf(text, sizeof text, "not needed: the others cover %s of %s kW", cov, need);
    else {
        group_note(c, u, g, sizeof g);
        snprintf(text, sizeof text, "no peer has %s kW spare left%s (largest %s kW)",
                 kw_text(u->kw, a, sizeof a), g, kw_text(largest_left, b, sizeof b));
    }
    unit_reason(c, u, text);
}

/* "a, b and 3 more" into dst, in at most room bytes (room < PL_REASON_MAX). */
static void name_list(const struct ctx *c, const size_t *idx, size_t n, char *dst, size_t room)
{
    char more[32];
    dst[0] = '\0';
    for (size_t t = 0; t < n; t++) {
        const char *name = name_of(c->w[idx[t]].name);
        size_t len = strlen(dst), add = (t ? 2 : 0) + strlen(name);
        size_t tail =
            t + 1 < n ? (size_t)snprintf(more, sizeof more, " and %zu more", n - t - 1) : 0;
        if (len + add + tail >= room) {
            if (t == 0)
                snprintf(dst, room, "%zu workloads", n);
            else
                snprintf(dst + len, room - len, " and %zu more", n - t);
            return;
        }
        snprintf(dst + len, room - len, "%s%s", t ? ", " : "", name);
    }
}

/* Workloads of the choice on peer j: newly placed (reserved = false, in
 * reservation order) or already reserved there. */
static size_t on_peer(const struct ctx *c, size_t j, bool reserved, size_t *idx)
{
    size_t n = 0;
    if (!reserved) {
        for (size_t t = 0; t < c->out->norder; t++)
            if (c->out->workloads[c->out->order[t]].peer == (int)j)
                idx[n++] = c->out->order[t];
        return n;
    }
    for (size_t i = 0; i < c->nw; i++)
        if (c->out->workloads[i].chosen && c->reserved_peer[i] == (int)j)
            idx[n++] = i;
    return n;
}

static void peer_reasons(struct ctx *c, bool covered, bool any_left, size_t *scratch)
{
    char a[32], b[32], tail[64], list[PL_REASON_MAX];
    for (size_t j = 0; j < c->np; j++) {
        struct pl_peer_choice *pc = &c->out->peers[j];
        if (c->usable[j]) {
            size_t n = on_peer(c, j, false, scratch);
            if (n > 0) {
                snprintf(tail, sizeof tail, " (%s kW of %s spare)",
                         kw_text(pc->planned_kw, a, sizeof a),
                         kw_text(c->p[j].spare_kw, b, sizeof b));
                name_list(c, scratch, n, list, PL_REASON_MAX - strlen("takes ") - strlen(tail));
                reason(pc->reason, "takes %s%s", list, tail);
            } else if (!covered && any_left) {
                reason(pc->reason, "fits none of the units left (%s kW spare)",
                       kw_text(c->spare[j], a, sizeof a));
            } else if (!covered) {
                reason(pc->reason, "no unit left to take");
            } else {
                reason(pc->reason, "not needed");
            }
        }
        size_t n = on_peer(c, j, true, scratch);
        if (n > 0) {
            snprintf(tail, sizeof tail, " (%s kW)", kw_text(pc->held_kw, a, sizeof a));
            size_t used = strlen(pc->reason) + strlen("; holds ") + strlen(tail);
            if (used + 16 < PL_REASON_MAX) {
                name_list(c, scratch, n, list, PL_REASON_MAX - used);
                reason_add(pc->reason, "; holds %s%s", list, tail);
            }
        }
    }
}

/* ---- the call ----------------------------------------------------------- */

/* Copies the units' outcome to the workloads and peers, and lists the
 * workloads to reserve: a reserved group's other members first, then the
 * new units in choice order. */
static void record_units(struct ctx *c)
{
    struct pl_choice *out = c->out;
    for (size_t pass = 0; pass < 2; pass++)
        for (size_t t = 0; t < (pass ? c->ncand : c->nunits); t++) {
            const struct unit *u = &c->units[pass ? c->cand[t] : t];
            if (!u->chosen || (pass == 0) != (u->held_by != NONE))
                continue;
            for (size_t k = 0; k < u->nmembers; k++) {
                size_t i = c->members[u->mstart + k];
                int j = c->reserved_peer[i] >= 0 ? c->reserved_peer[i] : u->peer;
                out->workloads[i].chosen = true;
                out->workloads[i].peer = j;
                out->covered_kw += c->w[i].power_kw;
                if (c->reserved_peer[i] >= 0) {
                    out->peers[j].held_kw += c->w[i].power_kw;
                    continue;
                }
                out->peers[j].planned_kw += c->w[i].power_kw;
                out->peers[j].nplanned++;
                out->order[out->norder++] = i;
            }
        }
}

static void write_reasons(struct ctx *c, size_t *scratch)
{
    bool covered = c->out->covered_kw >= c->need - c->tol, any_left = false;
    double largest_left = largest_spare(c);
    for (size_t k = 0; k < c->nunits; k++) {
        struct unit *u = &c->units[k];
        if (u->blocker != NONE)
            blocked_reasons(c, u);
        else if (u->held_by != NONE && u->chosen)
            for (size_t m = 0; m < u->nmembers; m++) {
                size_t i = c->members[u->mstart + m];
                if (c->reserved_peer[i] >= 0)
                    reason(c->out->workloads[i].reason, "kept: already reserved at %s",
                           name_of(c->p[c->reserved_peer[i]].name));
                else
                    reason(c->out->workloads[i].reason, "goes with group '%s' to %s",
                           name_of(group_of(c, u)), name_of(c->p[u->peer].name));
            }
        else if (u->candidate && u->chosen)
            taken_reason(c, u);
        else if (u->candidate)
            left_reason(c, u, covered, largest_left);
        any_left = any_left || (u->blocker == NONE && !u->chosen && u->kw > 0);
        for (size_t m = 0; m < u->nmembers; m++)
            c->out->workloads[c->members[u->mstart + m]].late = u->late;
    }
    peer_reasons(c, covered, any_left, scratch);
}

static void write_summary(struct ctx *c)
{
    struct pl_choice *out = c->out;
    char a[32], b[32], d[32];
    size_t nchosen = 0, npeers = 0;
    for (size_t i = 0; i < c->nw; i++)
        nchosen += out->workloads[i].chosen;
    for (size_t j = 0; j < c->np; j++)
        npeers += out->peers[j].nplanned > 0 || out->peers[j].held_kw > 0;
    kw_text(out->covered_kw, a, sizeof a);
    kw_text(c->need, b, sizeof b);
    if (out->missing_kw > 0)
        reason(out->summary, "covers %s of %s kW, %s kW missing", a, b,
               kw_text(out->missing_kw, d, sizeof d));
    else
        reason(out->summary, "covers %s of %s kW", a, b);
    if (nchosen)
        reason_add(out->summary, ": %zu workload%s on %zu peer%s", nchosen, nchosen == 1 ? "" : "s",
                   npeers, npeers == 1 ? "" : "s");
    if (!out->exact && c->ncand > PL_EXACT_MAX_UNITS)
        reason_add(out->summary, " (greedy: %zu candidate units)", c->ncand);
    else if (!out->exact)
        reason_add(out->summary, " (greedy: search stopped after %ld steps)", out->steps);
}

/* need_kw <= 0 or not a number: nothing moves; the ineligible still say
 * why, everything else says there is no need. */
static void no_need(struct ctx *c)
{
    char need[48], text[PL_REASON_MAX];
    if (isfinite(c->need))
        kw_text(c->need, need, sizeof need);
    else
        snprintf(need, sizeof need, "not a finite number (%g)", c->need);
    snprintf(text, sizeof text, "not needed: need_kw is %s", need);
    for (size_t k = 0; k < c->nunits; k++) {
        const struct unit *u = &c->units[k];
        if (u->blocker != NONE)
            blocked_reasons(c, u);
        else
            unit_reason(c, u, text);
    }
    for (size_t j = 0; j < c->np; j++)
        if (c->usable[j])
            reason(c->out->peers[j].reason, "not needed");
    reason(c->out->summary, "need_kw is %s: nothing to move", need);
    c->out->exact = true;
}

static void ctx_free(struct ctx *c)
{
    free(c->usable);
    free(c->spare);
    free(c->reserved_peer);
    free(c->clause);
    free(c->members);
    free(c->units);
    free(c->cand);
}

static int ctx_alloc(struct ctx *c)
{
    size_t nw = c->nw ? c->nw : 1, np = c->np ? c->np : 1;
    struct pl_choice *out = c->out;
    out->workloads = calloc(nw, sizeof *out->workloads);
    out->peers = calloc(np, sizeof *out->peers);
    out->order = calloc(nw, sizeof *out->order);
    c->usable = calloc(np, sizeof *c->usable);
    c->spare = calloc(np, sizeof *c->spare);
    c->reserved_peer = calloc(nw, sizeof *c->reserved_peer);
    c->clause = calloc(nw, sizeof *c->clause);
    c->members = calloc(nw, sizeof *c->members);
    c->units = calloc(nw, sizeof *c->units);
    c->cand = calloc(nw, sizeof *c->cand);
    if (!out->workloads || !out->peers || !out->order || !c->usable || !c->spare ||
        !c->reserved_peer || !c->clause || !c->members || !c->units || !c->cand)
        return -1;
    out->nworkloads = c->nw;
    out->npeers = c->np;
    for (size_t i = 0; i < c->nw; i++)
        out->workloads[i].peer = -1;
    return 0;
}

int pl_choose(const struct pl_workload *workloads, size_t nworkloads, const struct pl_peer *peers,
              size_t npeers, const struct pl_request *request, struct pl_choice *out, char *err,
              size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct ctx c = {.w = workloads, .nw = nworkloads, .p = peers, .np = npeers, .out = out};
    c.need = request->need_kw;
    c.deadline_s =
        isfinite(request->deadline_s) && request->deadline_s > 0 ? request->deadline_s : 0;
    out->need_kw = c.need;
    if (ctx_alloc(&c) < 0) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    if (find_reserved_peers(&c, err, errlen) < 0)
        goto fail;
    classify_peers(&c);
    if (build_units(&c) < 0) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    if (!(isfinite(c.need) && c.need > 0)) {
        no_need(&c);
        ctx_free(&c);
        return 0;
    }
    /* Rounding slack for kW sums: far below any kW a facility reads. */
    c.tol = 1e-9 * (1 + c.need + largest_spare(&c));
    for (size_t k = 0; k < c.nunits; k++)
        if (c.units[k].held_by != NONE)
            keep_reserved(&c, &c.units[k]);
    long max_steps = request->max_steps > 0 ? request->max_steps : PL_STEPS_DEFAULT;
    if (pick_candidates(&c) < 0 || choose_units(&c, max_steps) < 0) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    record_units(&c);
    out->missing_kw = c.need - out->covered_kw > c.tol ? c.need - out->covered_kw : 0;
    /* on_peer's scratch: the order array's size is enough. */
    size_t *scratch = calloc(c.nw ? c.nw : 1, sizeof *scratch);
    if (!scratch) {
        errf(err, errlen, "out of memory");
        goto fail;
    }
    write_reasons(&c, scratch);
    free(scratch);
    write_summary(&c);
    ctx_free(&c);
    return 0;
fail:
    ctx_free(&c);
    pl_choice_clear(out);
    return -1;
}

void pl_choice_clear(struct pl_choice *c)
{
    if (!c)
        return;
    free(c->workloads);
    free(c->peers);
    free(c->order);
    memset(c, 0, sizeof *c);
}
