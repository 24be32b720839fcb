/*
 * decision — the record of one policy decision (SPEC 3.3), as the policy
 * tick makes it, the store keeps it and GET /v1/decisions serves it.
 *
 * A decision is made when a policy enters `firing` and again after each
 * `cooldown` while it is still firing (policies/pol_run.c builds it). It
 * carries the metric values the policy's expressions read (its inputs),
 * the workloads and peers placement considered, and the reasons for its
 * status, so an engineer can see afterwards why the site did or did not
 * act.
 *
 * JSON shape (one element of GET /v1/decisions, also one line of `floe
 * replay`):
 *   {"id": 7, "ts": "2026-01-15T10:12:00Z", "policy": "cooling-shortfall",
 *    "kind": "shed", "status": "no-placement", "need_kw": 140,
 *    "inputs": [{"name": "it.load_kw", "value": 400, "quality": "good"}, ...],
 *    "workloads": [{"name", "namespace", "power_kw", "priority", "data_gb",
 *                   "downtime_s", "chosen", "to", "reservation", "reason"}],
 *    "peers": [{"name", "accepting", "spare_kw", "reserved_kw", "reason"}],
 *    "placed_kw": 150, "inflight_kw": 0, "deadline_s": null,
 *    "reasons": ["entered firing: `when` held for 2m", "placement not configured"]}
 * A rebalance decision adds "home_site" to each workload (the peer a
 * guest belongs to; null for this site's own) and
 *    "rebalance": {"min_gain_kw", "max_migrations", "min_residency_s",
 *                  "window_start", "window_end", "started_in_window",
 *                  "site_spare_kw"}
 * its action's parameters, the schedule window it counts max_migrations in
 * (RFC 3339; null when not known), the migrations the policy had started
 * in that window before this decision and this site's spare kW when it
 * planned (both null until it planned: observe, approve, replay).
 * ts is RFC 3339 UTC; need_kw and an unknown input's value are null when
 * not applicable / unknown; numbers are written with 12 significant digits
 * (so 400 * 1.1 - 300 reads 140, not 140.00000000000006).
 *
 * Statuses (what happened to the decision). At this step:
 *   inputs-unknown     an expression that decides was unknown (SPEC 3.2): at
 *                      a cooldown decision `when` or `clear`, for a shed
 *                      also `action.kw`. Nothing is done: a site never
 *                      migrates because of data it does not have.
 *   no-need            shed whose need_kw (action.kw minus the kW of this
 *                      site's migrations already in flight) is <= 0: the
 *                      reason says whether in-flight work covers it.
 *                      rebalance with nothing to move: no guest due home,
 *                      no peer with more than min_gain_kw more spare, the
 *                      window's max_migrations started already, or every
 *                      candidate within min_residency.
 *   observed           mode observe: recorded only ("mode observe:
 *                      recorded only").
 *   awaiting-approval  mode approve: waits for POST
 *                      /v1/decisions/{id}/approve or /reject.
 *   notified           mode auto, action notify: the decision (and the
 *                      alarm it raises) is the whole action.
 *   placing            mode auto, action shed or rebalance: handed to
 *                      placement (core/placer.h, core/rebalancer.h). Only
 *                      in flight between decision_classify and the
 *                      placement that resolves it to one of the next three;
 *                      never stored.
 *   placed             shed: reservations at peers cover need_kw; the
 *                      workloads, their peers and reservation ids are in
 *                      the record. Without a migrator nothing moves yet
 *                      and the reservations lapse at their TTL.
 *                      rebalance: every move the plan wanted is reserved
 *                      (failbacks home, levelling moves); the migrator
 *                      carries them out.
 *   partial            shed: some workloads are reserved at peers but they
 *                      cover less than need_kw; a reason says how many kW
 *                      are missing and why. rebalance: some moves are
 *                      reserved, a peer refused the others.
 *   no-placement       nothing was reserved: placement not configured (no
 *                      peers, no workloads, or `floe replay`, which does
 *                      not place), no movable workload, or no peer with
 *                      capacity; the reasons and the workloads' and peers'
 *                      entries say which. rebalance: a move was wanted
 *                      (a guest's home, a peer with much more spare) and
 *                      none could be reserved (the home not accepting or
 *                      without the spare, a refusal), or rebalance is not
 *                      configured (no peers, workloads or migrator; `floe
 *                      replay`).
 *   rejected           an operator rejected a decision awaiting approval.
 * An approved decision takes the status mode auto would have given it
 * (notified, or placing and then what placement makes of it), with
 * "approved by NAME" among its reasons. The rules apply in that order
 * (decision_classify). Names are stable once stored.
 *
 * Ownership: a struct decision owns every string and array in it;
 * decision_clear() frees them. Allocation failures in the builders abort,
 * as util_strdup does: the records are small and a tick that cannot
 * allocate a few hundred bytes has nothing sensible left to do.
 */
#ifndef FLOE_DECISION_H
#define FLOE_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"

enum decision_status {
    DECISION_INPUTS_UNKNOWN,
    DECISION_NO_NEED,
    DECISION_OBSERVED,
    DECISION_AWAITING_APPROVAL,
    DECISION_NOTIFIED,
    DECISION_NO_PLACEMENT,
    DECISION_REJECTED,
    DECISION_PLACING,
    DECISION_PLACED,
    DECISION_PARTIAL,
};

/* One value an expression read: a metric name (also each member of a
 * glob), or a history/age call as text ("rate(room.inlet_c, 5m)"). */
struct decision_input {
    char *name;
    double value; /* NAN when unknown */
    bool good;
};

/* A workload placement considered. */
struct decision_workload {
    char *name;
    char *namespace_; /* NULL = same as name */
    double power_kw;
    int priority;
    double data_gb;    /* NAN when not known */
    double downtime_s; /* expected downtime if it moves; NAN when not estimated */
    bool chosen;
    char *to;          /* the peer it goes to when chosen, else NULL */
    char *reservation; /* the id the peer granted, else NULL */
    char *reason;      /* why it was taken or left */
    char *home_site;   /* rebalance: the peer a guest belongs to; NULL = this site's own */
};

/* A peer asked for capacity. */
struct decision_peer {
    char *name;
    bool accepting;
    double spare_kw;    /* NAN when the peer did not answer */
    double reserved_kw; /* what this decision reserved there (0 = nothing) */
    char *reason;
};

/* A rebalance decision's parameters and what it counted (decision.h top). */
struct decision_rebalance {
    double min_gain_kw;
    int max_migrations;
    int64_t min_residency_ms;
    int64_t window_start_ms, window_end_ms; /* 0 = not known */
    int started_in_window;                  /* -1 until planned */
    double site_spare_kw;                   /* NAN until planned or when unknown */
};

struct decision {
    int64_t id;    /* 0 until stored (replay numbers its own from 1) */
    int64_t ts_ms; /* the tick that made it */
    char *policy;
    enum pol_action_type kind; /* shed, notify, rebalance */
    enum decision_status status;
    double need_kw; /* shed: action.kw minus in-flight kW; NAN otherwise */
    double placed_kw; /* shed after placement: kW reserved at peers; NAN before */
    double inflight_kw; /* shed: the in-flight kW need_kw was reduced by; NAN otherwise */
    double deadline_s;  /* shed: the policy's action.deadline; 0 = none */
    struct decision_input *inputs;
    size_t ninputs, cap_inputs;
    struct decision_workload *workloads;
    size_t nworkloads, cap_workloads;
    struct decision_peer *peers;
    size_t npeers, cap_peers;
    char **reasons;
    size_t nreasons, cap_reasons;
    struct decision_rebalance rebalance; /* kind rebalance only */
};

/* Zeroes d (need_kw NAN, rebalance's unknowns unknown): an empty
 * decision ready to fill. */
void decision_init(struct decision *d);
/* Frees what d owns and re-initialises it. NULL is a no-op. */
void decision_clear(struct decision *d);

/* Builders; strings are copied. */
void decision_set_policy(struct decision *d, const char *policy);
void decision_add_input(struct decision *d, const char *name, double value, bool good);
void decision_add_reason(struct decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void decision_add_workload(struct decision *d, const struct decision_workload *w);
void decision_add_peer(struct decision *d, const struct decision_peer *p);

/* What decision_classify needs to know besides d->kind. */
struct decision_facts {
    enum pol_mode mode;
    /* NULL, or the deciding expression that was unknown: "when", "clear"
     * or "action.kw". */
    const char *unknown;
    double kw;          /* shed: the value of action.kw (NAN when unknown) */
    double inflight_kw; /* shed: kW of this site's migrations in flight */
};

/* Sets d->need_kw (shed only) and d->status by the rules above, and
 * appends the status's reason. */
void decision_classify(struct decision *d, const struct decision_facts *f);

/* "inputs-unknown", "no-need", ... ; "?" for a value out of range. */
/* Forgets the workloads and peers placement recorded (placed_kw back to
 * NAN), for a placement undone before the record was kept. */
void decision_clear_placement(struct decision *d);

/* Ends a decision that is placing without placing anything: status
 * no-placement with the reason given. */
void decision_not_placed(struct decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An operator's answer to a decision awaiting approval (the caller has
 * checked the status). `actor` is the token name, kept in the reasons. An
 * approved shed is then placing: the caller places it. */
void decision_approve(struct decision *d, const char *actor);
void decision_reject(struct decision *d, const char *actor);

const char *decision_status_name(enum decision_status s);
/* Returns 0 and *out, or -1 for an unknown name. */
int decision_status_parse(const char *name, enum decision_status *out);
/* "shed", "notify", "rebalance". */
const char *decision_kind_name(enum pol_action_type k);
int decision_kind_parse(const char *name, enum pol_action_type *out);

/* The JSON object above. Returns a new tree (caller frees with
 * cJSON_Delete). */
cJSON *decision_to_json(const struct decision *d);
/* The same as one line of text without white space; caller frees. */
char *decision_to_text(const struct decision *d);

/* Reads a decision back from its JSON object (as decision_to_json wrote
 * it; keys it does not know are ignored so newer records stay readable).
 * Returns 0 and fills *out (free with decision_clear), or -1 with the
 * path of the bad field in err ("inputs[2].quality: must be \"good\" or
 * \"unknown\""); *out is then empty. */
int decision_from_json(const cJSON *obj, struct decision *out, char *err, size_t errlen);
/* The same from text. */
int decision_parse(const char *text, size_t len, struct decision *out, char *err, size_t errlen);

#endif
