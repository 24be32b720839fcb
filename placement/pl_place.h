/*
 * pl_place — turns a shed decision into reservations at peers (SPEC 3.3,
 * 5): asks every peer for its capacity, chooses with pl_choose, reserves
 * each chosen workload at its peer, and when a peer refuses (409: someone
 * else took its capacity meanwhile) chooses again with what that peer
 * says it has left, until every chosen workload is reserved or nothing
 * more can be. Then it writes the outcome into the decision record: every
 * workload and every peer with why it was taken or left, the kW placed,
 * and the status placed, partial or no-placement.
 *
 * No reservation, no migration: a workload counts as placed only once its
 * peer granted it. A grant whose workload a later round no longer wants is
 * released at once, so a decision never holds capacity it does not use.
 *
 * The network is behind pl_place_ops (the agent's are the peer client's
 * calls; tests pass their own), so this module does no I/O of its own and
 * reads no clock.
 *
 * Ownership: the request's arrays are borrowed for the call. The decision
 * gets copies of every string. A pl_placement owns its grants;
 * pl_placement_clear frees them.
 */
#ifndef FLOE_PL_PLACE_H
#define FLOE_PL_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement/pl_choose.h"
#include "policies/decision.h"

#define PL_PROBLEM_MAX 256
#define PL_RESV_ID_MAX 128

/* One peer's answer to GET /v1/capacity. */
struct pl_peer_answer {
    bool answered; /* a valid answer came */
    bool accepting;
    double spare_kw;              /* NAN when not answered */
    char problem[PL_PROBLEM_MAX]; /* "" or why it is skipped: "unreachable: ...", "garbage answer:
                                     ..." */
};

enum pl_resv_outcome {
    PL_RESV_GRANTED, /* 201: id, kw, expires_ms */
    PL_RESV_REFUSED, /* 409: spare_kw is what the peer has left */
    PL_RESV_FAILED,  /* no usable answer: problem says why */
};

struct pl_resv_answer {
    enum pl_resv_outcome outcome;
    char id[PL_RESV_ID_MAX];
    double kw;
    int64_t expires_ms;
    double spare_kw;
    char problem[PL_PROBLEM_MAX];
};

struct pl_place_ops {
    void *ctx;
    /* Asks every peer (index = request.peer_names index) at once; fills
     * out[0 .. npeers-1]. */
    void (*capacity)(void *ctx, size_t npeers, struct pl_peer_answer *out);
    /* Reserves kw for workloads[workload] at peer; fills *out. */
    void (*reserve)(void *ctx, size_t peer, size_t workload, double kw, struct pl_resv_answer *out);
    /* Releases a grant (best effort: an unreleased one lapses at its TTL). */
    void (*release)(void *ctx, size_t peer, const char *id);
};

struct pl_place_request {
    const char *const *peer_names; /* the configured peers, in config order */
    size_t npeers;
    const struct pl_workload *workloads; /* the inventory, reserved_at NULL */
    size_t nworkloads;
    double need_kw;
    double deadline_s; /* 0 = none */
};

/* One reservation this decision holds. */
struct pl_grant {
    size_t workload;
    size_t peer;
    char id[PL_RESV_ID_MAX];
    double kw;
    int64_t expires_ms;
};

struct pl_placement {
    struct pl_grant *grants;
    size_t ngrants;
    double placed_kw;  /* sum of the grants */
    double missing_kw; /* need_kw - placed_kw when > 0 */
    int rounds;        /* choices made (1 + refusals and failures) */
};

/* Places need_kw (need_kw > 0; the caller classified the decision) and
 * records the outcome in d: its workloads, peers, placed_kw, status and a
 * closing reason. Returns 0, or -1 with err when memory ran out (d is then
 * no-placement with that reason and nothing stays reserved). */
int pl_place(const struct pl_place_request *req, const struct pl_place_ops *ops, struct decision *d,
             struct pl_placement *out, char *err, size_t errlen);

void pl_placement_clear(struct pl_placement *p);

#endif
