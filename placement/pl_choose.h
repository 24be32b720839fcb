/*
 * pl_choose — which workloads move to which peer to shed need_kw (SPEC
 * 3.3). A pure function: the workloads (from the inventory), the peers'
 * capacity answers (from the peer client) and the need go in; the choice,
 * the kW planned per peer and one short reason per workload and per peer
 * come out. No I/O, no clock, no globals.
 *
 * Driving it (core/): call pl_choose, reserve the chosen workloads in
 * choice->order at their choice->workloads[i].peer. When a peer refuses
 * (409 with its spare_kw), set that peer's spare_kw to the answer, lower
 * every other peer's spare_kw by the kW it granted since its answer, set
 * reserved_at on every workload already granted, and call again: granted
 * workloads stay chosen where they are (their kW counts toward need, not
 * against spare_kw), the rest is chosen anew. A workload with reserved_at
 * that comes back not chosen (its group no longer fits, it became pinned,
 * need_kw fell to 0, ...) is to be released.
 *
 * Candidates. A workload is left, with its reason, when it is pinned
 * ("pinned"), already moving ("already moving"), unmovable (the caller's
 * text, e.g. "stateful, no quiesce hook and migrator.data_mover off"), or
 * its power_kw, downtime_s (not read for stateless workloads: they have no
 * downtime) or migration_s is negative or not a finite number. Workloads
 * with the same `group` form one unit that moves whole, to one peer, or
 * not at all: one member left keeps the whole group ("group 'g' left whole
 * because member db is pinned"; the member itself says "pinned (keeps
 * group 'g')"). A unit's kW is its members' sum; its priority the highest
 * member's (it moves only when its most protected member would); its
 * downtime and migration time the longest member's (members switch over
 * together). A unit of 0 kW sheds nothing and is left; so is a unit larger
 * than every usable peer's spare ("no peer has 60 kW spare (largest 50
 * kW)").
 *
 * Peers. A peer is skipped with its `problem` text when it has one, else
 * "did not answer", "not accepting", "spare_kw unusable (nan)", or "no
 * spare (-5 kW)" for spare_kw <= 0. Units are placed only on the rest, and
 * the kW placed on a peer never exceeds its spare_kw (within 1e-9
 * relative rounding). spare_kw is what the peer can still take beyond the
 * reservations this decision already holds there, which is what its 409
 * answer reports.
 *
 * Order. Units with a deadline (request.deadline_s > 0) whose migration_s
 * ends after it ("late") come after all others; then the lowest priority
 * first; within a priority the most kW per minute of downtime (a unit with
 * no downtime, such as a stateless one, first of all); then the most kW;
 * then input order.
 *
 * The rule. Let u1..uk be the candidate units in that order. A set of
 * units is placeable when some assignment of its units to usable peers
 * keeps every peer within its spare_kw; it covers when its kW (plus the
 * units already reserved) reaches need_kw. Over-shed is capped at
 * PL_OVER_SHED (15 %): let B = 1.15 * need_kw if a placeable set covers
 * need with at most that, else the least kW of any placeable covering set
 * (so over-shed is only ever above 15 % when every cover is).
 *   cover:   the acceptable sets are the placeable sets with need_kw <=
 *            kW <= B. Take the first acceptable set in priority order
 *            (the one that contains u1 if any acceptable set does, then u2
 *            if any still does, and so on), stopping at the unit where it
 *            first covers need; then drop, from the last chosen unit back
 *            to the first, every unit the rest still covers need without
 *            (SPEC's drop pass; "not needed: the others cover 110 of 100
 *            kW").
 *   partial: when no placeable set covers need, take the first set in
 *            priority order among those of the largest placeable kW;
 *            missing_kw says what is left, and every unit left there fits
 *            no peer's remaining spare ("no peer has 30 kW spare left
 *            (largest 12 kW)").
 * So lower priorities are always tried first, but a set that sheds at
 * most 15 % over need is preferred to a higher-priority one that sheds
 * more (need 100, units 90, 30, 20: 90 + 20, not 90 + 30).
 *
 * Where each chosen unit goes: in choice order, to the peer with the most
 * spare left after the units before it (lowest index on a tie), which
 * splits units across peers when one cannot take them all. When that
 * order cannot fit the chosen set while another assignment can (spares
 * 50 and 50, units 30, 20, 50), the assignment the search found is used.
 *
 * Work. The search is exact branch and bound (include before exclude,
 * pruned by the bound B, by the kW still reachable and by the peers'
 * spare left; an exact bin-packing check only when the most-spare peer
 * cannot take the next unit). Its steps are capped at request.max_steps
 * (default PL_STEPS_DEFAULT, a few tens of ms); past the cap, or with more
 * than PL_EXACT_MAX_UNITS candidate units, it falls back to greedy: units
 * in order, each on the most-spare peer if it fits, until need is
 * covered, then the drop pass. choice.exact says which ran; the fallback
 * keeps every rule above except the 15 % bound and the guarantee to find
 * a cover when only a rearrangement across peers allows one.
 *
 * need_kw <= 0 or not a finite number: nothing is chosen (and reserved
 * workloads come back not chosen). deadline_s <= 0 or not finite: none.
 *
 * Ownership: inputs are borrowed for the call only. A pl_choice owns its
 * arrays; pl_choice_clear frees them (safe on a zeroed or cleared choice).
 * Reasons are stable, short English, cut to PL_REASON_MAX - 1 bytes.
 */
#ifndef FLOE_PL_CHOOSE_H
#define FLOE_PL_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>

#define PL_OVER_SHED 0.15
#define PL_STEPS_DEFAULT 1000000L
#define PL_EXACT_MAX_UNITS 256
#define PL_REASON_MAX 192

/* One workload (strings borrowed). */
struct pl_workload {
    const char *name, *namespace_;
    double power_kw;
    double data_gb; /* not read here: the caller's input to pl_estimate */
    int priority;   /* lower moves first */
    bool stateless;
    const char *group;       /* NULL = none; a group moves whole or not at all */
    bool pinned;             /* never moves */
    bool moving;             /* already in a migration: not a candidate */
    const char *unmovable;   /* NULL = movable; else why it is left */
    double downtime_s;       /* expected downtime (pl_estimate) */
    double migration_s;      /* expected whole migration (pl_estimate) */
    const char *reserved_at; /* NULL; or the peer (name) where this decision
                                already holds its reservation (re-run after
                                a refusal) */
};

/* One peer's capacity answer (strings borrowed). */
struct pl_peer {
    const char *name;
    bool answered;
    bool accepting;
    double spare_kw;
    const char *problem; /* NULL, or why it is skipped ("unreachable: ...") */
};

struct pl_request {
    double need_kw;
    double deadline_s; /* 0 = none */
    long max_steps;    /* search work cap; 0 = PL_STEPS_DEFAULT */
};

struct pl_workload_choice {
    bool chosen;
    int peer;  /* index into the peers when chosen, else -1 */
    bool late; /* its migration ends after the deadline */
    char reason[PL_REASON_MAX];
};

struct pl_peer_choice {
    double planned_kw; /* kW newly placed on it (<= its spare_kw) */
    double held_kw;    /* kW of chosen workloads already reserved there */
    size_t nplanned;   /* workloads newly placed on it */
    char reason[PL_REASON_MAX];
};

struct pl_choice {
    struct pl_workload_choice *workloads; /* one per input workload, same order */
    size_t nworkloads;
    struct pl_peer_choice *peers; /* one per input peer, same order */
    size_t npeers;
    size_t *order; /* chosen workloads still to reserve (reserved_at NULL):
                      a reserved group's other members first, then in
                      choice order, a group's members together */
    size_t norder;
    double need_kw;
    double covered_kw;           /* kW of every chosen workload, reserved ones included */
    double missing_kw;           /* need_kw - covered_kw when > 0 (partial), else 0 */
    bool exact;                  /* false: the greedy fallback chose (see above) */
    long steps;                  /* search steps used */
    char summary[PL_REASON_MAX]; /* "covers 110 of 100 kW: 2 workloads on 1 peer" */
};

/* Chooses (the rules above). Returns 0 and fills *out (free with
 * pl_choice_clear), or -1 with err when memory runs out or a workload's
 * reserved_at names no peer ("workloads[3] (shop).reserved_at: no peer
 * named 'x'"); *out is then zeroed. */
int pl_choose(const struct pl_workload *workloads, size_t nworkloads, const struct pl_peer *peers,
              size_t npeers, const struct pl_request *request, struct pl_choice *out, char *err,
              size_t errlen);

void pl_choice_clear(struct pl_choice *c);

#endif
