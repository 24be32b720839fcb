/*
 * pl_place — see pl_place.h. One round: choose, then reserve in the
 * choice's order until a peer refuses or fails; a refusal or failure
 * corrects what we believe of that peer and starts the next round. The
 * rounds are bounded: each one either reserves everything it chose or
 * lowers some peer's spare (or takes a peer out), and the record is
 * written from the last choice.
 */
#include "placement/pl_place.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/util.h"
#include "lib/vec.h"

/* What we believe of each peer during the rounds. */
struct peer_view {
    struct pl_peer_answer answer;
    double granted_since_answer; /* kW granted here since spare_kw was last corrected */
    double reserved_kw;          /* kW this decision holds here */
    char problem[PL_PROBLEM_MAX];
};

struct place {
    const struct pl_place_request *req;
    const struct pl_place_ops *ops;
    struct peer_view *peers;
    struct pl_peer *pl_peers;
    struct pl_workload *work; /* the request's workloads, reserved_at set per round */
    int *granted;             /* per workload: index into out->grants, or -1 */
    struct pl_placement *out;
    size_t cap_grants;
};

static void sync_pl_peers(struct place *p)
{
    for (size_t i = 0; i < p->req->npeers; i++) {
        const struct peer_view *v = &p->peers[i];
        p->pl_peers[i] = (struct pl_peer){
            .name = p->req->peer_names[i],
            .answered = v->answer.answered,
            .accepting = v->answer.accepting,
            .spare_kw = v->answer.spare_kw,
            .problem = v->problem[0] ? v->problem : NULL,
        };
    }
    for (size_t i = 0; i < p->req->nworkloads; i++) {
        int g = p->granted[i];
        p->work[i].reserved_at = g >= 0 ? p->req->peer_names[p->out->grants[g].peer] : NULL;
    }
}

static void drop_grant(struct place *p, size_t workload)
{
    int g = p->granted[workload];
    if (g < 0)
        return;
    struct pl_grant *gr = &p->out->grants[g];
    if (p->ops->release)
        p->ops->release(p->ops->ctx, gr->peer, gr->id);
    /* The peer has that room again: in the spare we believe it has, or
     * in what it granted since its last answer, whichever counted it. */
    struct peer_view *v = &p->peers[gr->peer];
    if (v->granted_since_answer >= gr->kw)
        v->granted_since_answer -= gr->kw;
    else if (isfinite(v->answer.spare_kw))
        v->answer.spare_kw += gr->kw;
    v->reserved_kw -= gr->kw;
    p->out->placed_kw -= gr->kw;
    /* keep the array dense: move the last grant into the hole */
    size_t last = p->out->ngrants - 1;
    if ((size_t)g != last) {
        p->out->grants[g] = p->out->grants[last];
        p->granted[p->out->grants[g].workload] = g;
    }
    p->out->ngrants--;
    p->granted[workload] = -1;
}

/* Something went wrong at peer `failed`: take what every other peer
 * granted since its answer off the spare we believe it has (pl_choose
 * reads spare_kw as what is left beyond this decision's grants), and
 * start counting afresh. The failed peer itself is corrected by the
 * caller. */
static void settle_spares(struct place *p, size_t failed)
{
    for (size_t i = 0; i < p->req->npeers; i++) {
        struct peer_view *v = &p->peers[i];
        if (i != failed && isfinite(v->answer.spare_kw))
            v->answer.spare_kw -= v->granted_since_answer;
        v->granted_since_answer = 0;
    }
}

/* The rounds ran out: a group some of whose chosen members hold no
 * grant would move in halves, so its grants go back. */
static void release_split_groups(struct place *p, const struct pl_choice *c)
{
    const struct pl_place_request *req = p->req;
    for (size_t i = 0; i < req->nworkloads; i++) {
        const char *g = req->workloads[i].group;
        if (!g || p->granted[i] >= 0 || !c->workloads[i].chosen)
            continue;
        for (size_t j = 0; j < req->nworkloads; j++)
            if (req->workloads[j].group && strcmp(req->workloads[j].group, g) == 0)
                drop_grant(p, j);
    }
}

/* Reserves the chosen workloads in order. Returns 1 when all are
 * reserved, 0 when a peer refused or failed (views corrected: choose
 * again), -1 when out of memory. */
static int reserve_round(struct place *p, const struct pl_choice *c, char *err, size_t errlen)
{
    for (size_t k = 0; k < c->norder; k++) {
        size_t w = c->order[k];
        size_t peer = (size_t)c->workloads[w].peer;
        double kw = p->req->workloads[w].power_kw;
        struct pl_resv_answer a;
        memset(&a, 0, sizeof a);
        a.spare_kw = NAN;
        p->ops->reserve(p->ops->ctx, peer, w, kw, &a);
        struct peer_view *v = &p->peers[peer];
        switch (a.outcome) {
        case PL_RESV_GRANTED:
            if (vec_reserve(p->out->grants, p->cap_grants, p->out->ngrants + 1) != 0) {
                if (p->ops->release)
                    p->ops->release(p->ops->ctx, peer, a.id);
                return errf(err, errlen, "out of memory recording a reservation");
            }
            p->granted[w] = (int)p->out->ngrants;
            struct pl_grant *g = &p->out->grants[p->out->ngrants++];
            *g = (struct pl_grant){
                .workload = w, .peer = peer, .kw = kw, .expires_ms = a.expires_ms};
            util_strlcpy(g->id, a.id, sizeof g->id);
            v->granted_since_answer += kw;
            v->reserved_kw += kw;
            p->out->placed_kw += kw;
            break;
        case PL_RESV_REFUSED:
            settle_spares(p, peer);
            if (isfinite(a.spare_kw) && a.spare_kw >= kw) {
                /* It says it has the room and still refuses: asking again
                 * would get the same answer (a broken or hostile peer, or
                 * rounding at its limit). */
                snprintf(v->problem, sizeof v->problem,
                         "refused %.4g kW while reporting %.4g kW spare", kw, a.spare_kw);
            } else {
                /* Believe what it says is left; a refusal without a usable
                 * figure means it has nothing for us. */
                v->answer.spare_kw = isfinite(a.spare_kw) && a.spare_kw >= 0 ? a.spare_kw : 0;
            }
            return 0;
        case PL_RESV_FAILED:
        default:
            settle_spares(p, peer);
            /* cut the peer's text so the prefix always fits */
            snprintf(v->problem, sizeof v->problem, "reservation failed: %.200s",
                     a.problem[0] ? a.problem : "no answer");
            return 0;
        }
    }
    return 1;
}

static void kw_text(double kw, char *buf, size_t n)
{
    snprintf(buf, n, "%.4g", kw);
}

/* Writes the record from the last choice and the grants; complete is
 * false when the rounds ran out before every chosen workload was
 * reserved. */
static void record(struct place *p, const struct pl_choice *c, bool complete, struct decision *d)
{
    const struct pl_place_request *req = p->req;
    for (size_t i = 0; i < req->nworkloads; i++) {
        const struct pl_workload *w = &req->workloads[i];
        int g = p->granted[i];
        char reason[PL_REASON_MAX + 64];
        const char *why = c && i < c->nworkloads ? c->workloads[i].reason : "not considered";
        bool chosen = g >= 0;
        if (!chosen && c && i < c->nworkloads && c->workloads[i].chosen)
            snprintf(reason, sizeof reason, "chosen, but no reservation was obtained");
        else
            snprintf(reason, sizeof reason, "%s", why);
        decision_add_workload(
            d, &(struct decision_workload){
                   .name = (char *)w->name,
                   .namespace_ = (char *)w->namespace_,
                   .power_kw = w->power_kw,
                   .priority = w->priority,
                   .data_gb = w->data_gb,
                   .downtime_s = w->stateless ? 0 : w->downtime_s,
                   .chosen = chosen,
                   .to = chosen ? (char *)req->peer_names[p->out->grants[g].peer] : NULL,
                   .reservation = chosen ? p->out->grants[g].id : NULL,
                   .reason = reason,
               });
    }
    for (size_t i = 0; i < req->npeers; i++) {
        const struct peer_view *v = &p->peers[i];
        char reason[PL_PROBLEM_MAX + PL_REASON_MAX + 32];
        if (v->problem[0])
            snprintf(reason, sizeof reason, "%s", v->problem);
        else if (c && i < c->npeers)
            snprintf(reason, sizeof reason, "%s", c->peers[i].reason);
        else
            snprintf(reason, sizeof reason, "not asked");
        decision_add_peer(d, &(struct decision_peer){
                                 .name = (char *)req->peer_names[i],
                                 .accepting = v->answer.answered && v->answer.accepting,
                                 .spare_kw = v->answer.answered ? v->answer.spare_kw : NAN,
                                 .reserved_kw = v->reserved_kw,
                                 .reason = reason,
                             });
    }

    double placed = p->out->placed_kw;
    if (placed < 1e-9)
        placed = 0;
    d->placed_kw = placed;
    p->out->missing_kw = req->need_kw - placed > 1e-9 ? req->need_kw - placed : 0;
    char need[32], got[32], miss[32];
    kw_text(req->need_kw, need, sizeof need);
    kw_text(placed, got, sizeof got);
    kw_text(p->out->missing_kw, miss, sizeof miss);
    size_t usable = 0;
    for (size_t i = 0; i < req->npeers; i++)
        if (!p->peers[i].problem[0] && p->peers[i].answer.answered &&
            p->peers[i].answer.accepting && p->peers[i].answer.spare_kw > 0)
            usable++;
    if (p->out->ngrants == 0) {
        d->status = DECISION_NO_PLACEMENT;
        if (req->nworkloads == 0)
            decision_add_reason(d, "nothing placed: the inventory has no workloads");
        else if (usable == 0)
            decision_add_reason(d, "nothing placed: no peer has capacity (%zu asked)", req->npeers);
        else if (!complete)
            decision_add_reason(d, "nothing placed: the peers refused the reservations (%d rounds)",
                                p->out->rounds);
        else
            decision_add_reason(d, "nothing placed: %s", c ? c->summary : "no choice");
        return;
    }
    struct strbuf moves = {0};
    for (size_t k = 0; k < p->out->ngrants; k++) {
        const struct pl_grant *g = &p->out->grants[k];
        strbuf_printf(&moves, "%s%s -> %s", k ? ", " : "", req->workloads[g->workload].name,
                      req->peer_names[g->peer]);
    }
    char *text = strbuf_take(&moves);
    if (p->out->missing_kw > 0) {
        d->status = DECISION_PARTIAL;
        decision_add_reason(d, "placed %s of %s kW needed, %s kW missing (%s): %s", got, need, miss,
                            !complete ? "the peers refused the rest"
                            : c       ? c->summary
                                      : "",
                            text ? text : "");
    } else {
        d->status = DECISION_PLACED;
        decision_add_reason(d, "placed %s kW of %s kW needed: %s", got, need, text ? text : "");
    }
    free(text);
}

int pl_place(const struct pl_place_request *req, const struct pl_place_ops *ops, struct decision *d,
             struct pl_placement *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t np = req->npeers, nw = req->nworkloads;
    struct place p = {.req = req, .ops = ops, .out = out};
    p.peers = calloc(np ? np : 1, sizeof *p.peers);
    p.pl_peers = calloc(np ? np : 1, sizeof *p.pl_peers);
    p.work = calloc(nw ? nw : 1, sizeof *p.work);
    p.granted = malloc((nw ? nw : 1) * sizeof *p.granted);
    for (size_t i = 0; p.granted && i < nw; i++)
        p.granted[i] = -1;
    struct pl_choice choice;
    memset(&choice, 0, sizeof choice);
    bool have_choice = false, complete = false;
    int rc = -1;
    if (!p.peers || !p.pl_peers || !p.work || !p.granted) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nw; i++) {
        p.work[i] = req->workloads[i];
        p.work[i].reserved_at = NULL;
    }
    struct pl_peer_answer *answers = calloc(np ? np : 1, sizeof *answers);
    if (!answers) {
        errf(err, errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < np; i++)
        answers[i].spare_kw = NAN;
    if (np > 0)
        ops->capacity(ops->ctx, np, answers);
    for (size_t i = 0; i < np; i++) {
        p.peers[i].answer = answers[i];
        if (!answers[i].answered && !answers[i].problem[0])
            snprintf(p.peers[i].problem, sizeof p.peers[i].problem, "did not answer");
        else
            util_strlcpy(p.peers[i].problem, answers[i].problem, sizeof p.peers[i].problem);
    }
    free(answers);

    /* Each round that does not finish corrects one peer's spare downwards
     * or takes a peer out; bounded well beyond what that needs. */
    int max_rounds = (int)(2 * (nw + np)) + 4;
    for (;;) {
        sync_pl_peers(&p);
        struct pl_request pr = {.need_kw = req->need_kw, .deadline_s = req->deadline_s};
        if (have_choice)
            pl_choice_clear(&choice);
        if (pl_choose(p.work, nw, p.pl_peers, np, &pr, &choice, err, errlen) != 0)
            goto done;
        have_choice = true;
        out->rounds++;
        /* Grants the new choice no longer wants are released at once;
         * their workloads are then free to go elsewhere: choose again. */
        size_t dropped = 0;
        for (size_t i = 0; i < nw; i++)
            if (p.granted[i] >= 0 && !choice.workloads[i].chosen) {
                drop_grant(&p, i);
                dropped++;
            }
        if (out->rounds > max_rounds) {
            release_split_groups(&p, &choice);
            break;
        }
        if (dropped > 0)
            continue;
        int r = reserve_round(&p, &choice, err, errlen);
        if (r < 0)
            goto done;
        if (r == 1) {
            complete = true;
            break;
        }
    }
    record(&p, &choice, complete, d);
    rc = 0;
done:
    if (rc != 0) {
        for (size_t i = 0; p.granted && i < nw; i++)
            drop_grant(&p, i);
        d->status = DECISION_NO_PLACEMENT;
        decision_add_reason(d, "nothing placed: %s", err);
    }
    if (have_choice)
        pl_choice_clear(&choice);
    free(p.peers);
    free(p.pl_peers);
    free(p.work);
    free(p.granted);
    return rc;
}

void pl_placement_clear(struct pl_placement *p)
{
    free(p->grants);
    memset(p, 0, sizeof *p);
}
