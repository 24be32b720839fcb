/*
 * capacity — what this site can take on for its peers (SPEC 5): the
 * power and cooling headroom of config `capacity` evaluated on the live
 * metrics, the kW already reserved, and whether the site accepts work at
 * all. GET /v1/capacity, /v1/status and /metrics report it; POST
 * /v1/reservations grants against it.
 *
 *   limit_kw = min(power_headroom_kw, cooling_headroom_kw) - margin_kw
 *   spare_kw = max(0, limit_kw - reserved_kw)
 *
 * Unknown never yields capacity (SPEC 3.2): when either expression is
 * unknown, or reads any value that is unknown (also a member of a glob,
 * which an aggregate would otherwise skip: a rack PDU in error must not
 * shrink the load and so grow the headroom), spare_kw is 0 and the site
 * is not accepting. It is not accepting either while a policy of
 * severity critical is firing (the evaluator's published states).
 *
 * The expressions are compiled once per config snapshot: struct cap_cache
 * keeps the compiled pair of the config it last saw, holding a reference
 * to that config so its address cannot be reused by another while cached.
 * Evaluation reads a metrics snapshot and the store; the time is passed in.
 */
#ifndef FLOE_CAPACITY_H
#define FLOE_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"
#include "store/store_resv.h"

struct cap_cache;

/* NULL when out of memory (the agent then compiles per call). */
struct cap_cache *cap_cache_new(void);
/* Drops the compiled expressions and the config reference (NULL: no-op). */
void cap_cache_free(struct cap_cache *cache);

struct cap_status {
    bool known;                 /* headrooms and reserved_kw are all known */
    bool accepting;             /* known, and no critical policy firing */
    double power_headroom_kw;   /* NAN when unknown */
    double cooling_headroom_kw; /* NAN when unknown */
    double margin_kw;
    double limit_kw;            /* min(headrooms) - margin; NAN when unknown */
    double reserved_kw;         /* reservations counting now; NAN when unreadable */
    double spare_kw;            /* 0 unless known */
    int64_t as_of_ms;           /* newest sample among the metrics read; now_ms when the
                                   expressions read none (constants); 0 when none was good */
    char reason[200];           /* why not accepting ("" when accepting); after a refusal
                                   by cap_reserve, why it was refused */
};

/* Capacity at now_ms under cfg (the caller's config reference), from
 * a's metrics, evaluator (NULL: no policies) and store; a->capacity (may
 * be NULL) caches the compiled expressions. Always fills *out; returns
 * -1 with err when the reservations could not be read (out then says
 * unknown, spare 0), else 0. */
int cap_evaluate(struct agent *a, const struct floe_config *cfg, int64_t now_ms,
                 struct cap_status *out, char *err, size_t errlen);

/* Grants req if the site accepts and it fits: 0 with the reservation in
 * *granted (store_resv_clear it), CAP_REFUSED with *st saying why
 * (st->reason) and how much is spare, or -1 with err. *st is the capacity
 * the decision was made on; after a grant, spare_kw and reserved_kw
 * include it. Reservations whose TTL ran out are marked (and logged)
 * first. */
#define CAP_REFUSED 1
int cap_reserve(struct agent *a, const struct floe_config *cfg,
                const struct store_resv_request *req, int64_t now_ms, struct store_resv *granted,
                struct cap_status *st, char *err, size_t errlen);

/* Marks the unconfirmed reservations whose TTL ended by now_ms as expired
 * and logs each, once ("reservation X for WORKLOAD from SITE expired
 * unconfirmed"). Returns how many, or -1 with err. */
int cap_expire(struct agent *a, int64_t now_ms, char *err, size_t errlen);

#endif
