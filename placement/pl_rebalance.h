/*
 * pl_rebalance — what an overnight rebalance moves (SPEC 3.3 `rebalance`).
 * A pure function like pl_choose: the workloads here (from the inventory,
 * each with its home and when it last moved), the peers' capacity answers,
 * this site's spare kW and the policy's parameters go in; which workloads
 * move where, and one short reason per workload and per peer, come out.
 * No I/O, no clock, no globals (core/rebalancer.c feeds it and reserves).
 *
 * Units. Workloads of one `group` move whole, to one peer, or stay
 * together: a unit's kW is its members' sum, its priority the highest
 * member's, its downtime the longest member's, its last move the latest
 * member's, and it counts one migration per member against
 * max_migrations. A unit stays, with the reason on the member that keeps
 * it ("keeps group 'g' (db: pinned)" on the others), when a member is
 * pinned, already moving, not movable (the caller's text), has a power_kw
 * that is negative or not a number, or moved within min_residency
 * ("moved here 2h ago, within min_residency 24h: stays until
 * 2026-03-30T01:00:00Z"); or when its members belong to different homes.
 *
 * Budget. budget = max_migrations - started (the migrations this policy
 * started in the current window before this decision, never below 0).
 * A unit moves only while the budget holds all its members; one that
 * does not fit stays with "max_migrations 2 reached in this window".
 *
 * 1. Failback first. Guest units (home not NULL and one of the peers) go
 *    home, lowest priority first, then the longest here, then input order,
 *    when the home answered, accepts work and has spare kW left for the
 *    whole unit (its spare less what this plan sends it already).
 *    Otherwise they stay, `blocked` (a move is wanted and cannot be made
 *    now): "home lulea-1 is not accepting work", "home lulea-1 has 20 kW
 *    spare, the unit needs 30 kW". Nothing else holds a guest back (SPEC
 *    3.3: home when home accepts it). Levelling cannot make it ping-pong:
 *    a levelled workload's home moves with it (the sender names the
 *    receiver its home, pl_rb_history), so it is not a guest where it
 *    was levelled to. A guest whose home is not a peer here cannot go
 *    home and is levelled like this site's own.
 * 2. Then levelling. S = this site's spare kW after the failbacks (each
 *    adds its kW: the load leaves). Own units, in shed order (lowest
 *    priority first, then the most kW per minute of downtime, then the
 *    most kW, then input order), each go to the usable peer (answered,
 *    accepting, spare > 0) with the most spare left, P, when
 *      P - S > min_gain_kw                       (worth it), and
 *      (S + kW) - (P - kW) <= min_gain_kw        (not inverted beyond
 *                                                 min_gain after it),
 *    i.e. kW <= (P - S + min_gain_kw) / 2. The second rule is what keeps
 *    two sites running the same policy from sending the unit back and
 *    forth: after the move the other site sees at most min_gain_kw more
 *    spare here than its own, which does not pass its first rule. Each
 *    move lowers P and raises S by kW, so later units see the balance as
 *    it will be. Units that fail a rule stay (not blocked) with the
 *    numbers in their reason. Guests whose home is a peer never level:
 *    they only go home. Without S (unknown: a capacity input is missing)
 *    or without a usable peer, own units stay, blocked.
 *
 * Reasons are stable, short English, cut to PL_RB_REASON_MAX - 1 bytes;
 * kW are printed with %.6g. Ownership: inputs are borrowed for the call;
 * a pl_rb_plan owns its arrays (pl_rb_plan_clear; safe on a zeroed plan).
 *
 * pl_rb_history: a workload's home and its last move from this site's own
 * records of its namespace. Events in time order: an import here that
 * named the workload's home (a levelled workload's home moves with it:
 * the sender names the receiver) makes that its home; one from peer X
 * that did not makes it a guest of X, unless its last move before was
 * from here to X (it came back: its home is what it was before it left,
 * its own or a guest's); a move from here (done) changes nothing but is
 * remembered. moved_ms is the time of the last event.
 */
#ifndef FLOE_PL_REBALANCE_H
#define FLOE_PL_REBALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_RB_REASON_MAX 256

/* One workload here (strings borrowed). */
struct pl_rb_workload {
    const char *name, *namespace_;
    double power_kw;
    int priority;          /* lower moves first */
    const char *group;     /* NULL = none; a group moves whole or stays */
    bool pinned;           /* never moves */
    bool moving; /* already in a migration, moved with its source still kept here, or arrived
                    while the sending site's migration has not ended (reservation held) */
    const char *unmovable; /* NULL = movable; else why it stays */
    const char *home;      /* NULL: this site's own; else the site it belongs to */
    int64_t moved_ms;      /* when it last moved (arrived here); 0 = never (or not known) */
    double downtime_s;     /* expected downtime of a move (orders levelling); NAN unknown */
};

/* One peer's capacity answer (strings borrowed). */
struct pl_rb_peer {
    const char *name;
    bool answered;
    bool accepting;
    double spare_kw;
    const char *problem; /* NULL, or why it is skipped ("unreachable: ...") */
};

struct pl_rb_request {
    int64_t now_ms;
    double site_spare_kw; /* this site's spare kW; NAN: unknown (no levelling) */
    double min_gain_kw;
    int max_migrations;
    int started;              /* migrations this policy started in the window already */
    int64_t min_residency_ms; /* 0 = none */
};

enum pl_rb_move {
    PL_RB_STAYS,
    PL_RB_HOME,  /* a guest going back to its home */
    PL_RB_LEVEL, /* an own workload going to a peer with much more spare */
};

struct pl_rb_workload_plan {
    enum pl_rb_move move;
    int peer;     /* index into the peers when it moves, else -1 */
    bool blocked; /* it should move and cannot now (see above) */
    char reason[PL_RB_REASON_MAX];
};

struct pl_rb_peer_plan {
    double planned_kw; /* kW this plan moves there */
    size_t nhome;      /* guests going home there */
    size_t nlevel;     /* workloads levelled there */
    char reason[PL_RB_REASON_MAX];
};

struct pl_rb_plan {
    struct pl_rb_workload_plan *workloads; /* one per input workload, same order */
    size_t nworkloads;
    struct pl_rb_peer_plan *peers; /* one per input peer, same order */
    size_t npeers;
    size_t *order; /* the workloads that move, in the order to reserve them
                      (failbacks first, a group's members together) */
    size_t norder;
    int budget;                 /* migrations this decision could start */
    size_t nhome, nlevel;       /* workloads going home / levelled */
    double home_kw, level_kw;   /* their kW */
    double site_spare_after_kw; /* S after every planned move; NAN when unknown */
    bool blocked;               /* some workload should move and cannot now */
    char summary[PL_RB_REASON_MAX];
};

/* Plans (the rules above). Returns 0 and fills *out (free with
 * pl_rb_plan_clear), or -1 with err when memory runs out; *out is then
 * zeroed. */
int pl_rebalance(const struct pl_rb_workload *workloads, size_t nworkloads,
                 const struct pl_rb_peer *peers, size_t npeers, const struct pl_rb_request *req,
                 struct pl_rb_plan *out, char *err, size_t errlen);

void pl_rb_plan_clear(struct pl_rb_plan *p);

/* One move of a namespace to or from this site, from its records. */
struct pl_rb_event {
    const char *namespace_;
    int64_t ts_ms;
    bool arrived;     /* imported here from peer (ready); false: moved from here to peer (done) */
    const char *peer; /* the other site */
    const char *home; /* arrived: the home the sender named (POST /v1/imports "home"; may be
                         this site); NULL: not named (the sender is home, or it came back) */
};

/* The home of namespace ns (NULL: this site's own; else a pointer into
 * events' peers or homes, which may name this site: the caller compares)
 * and the time of its last move (0: none), from the events of ns among
 * events[0..n-1] in time order (a move away before an arrival at the same
 * instant). An arrival that names its home sets it as named; *named
 * (may be NULL) says whether the home comes from such an arrival (newer
 * than a floe.dev/home-site annotation the namespace carried along). */
void pl_rb_history(const struct pl_rb_event *events, size_t n, const char *ns, const char **home,
                   int64_t *moved_ms, bool *named);

#endif
