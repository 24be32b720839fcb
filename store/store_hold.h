/*
 * store_hold — the reservations this site holds at its peers: what a
 * placed decision reserved where (SPEC 3.3, 5), kept in the store so that
 * a restarted agent still knows which workloads are spoken for.
 *
 * A hold is `active` from the peer's grant until it is `released` (we
 * sent DELETE) or its TTL passes (it then simply stops counting: the peer
 * lets it lapse on its own). Once a migration is made of it
 * (store_mig_create) it is `confirmed`: no TTL ends it any more, only
 * the migration's release when it is done or rolled back. While a hold
 * counts, its workload is in flight: placement does not choose it again
 * and its kW count against the next decision's need.
 *
 * Time comes in as arguments (wall-clock ms). Ended rows are kept until
 * store_hold_prune removes them with the rest of the history.
 */
#ifndef FLOE_STORE_HOLD_H
#define FLOE_STORE_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_hold {
    char *peer;        /* the peer's name in our config */
    char *id;          /* the reservation id the peer granted */
    char *workload;
    char *namespace_;
    double kw;
    int64_t decision_id; /* the decision that placed it (0 = none) */
    int64_t created_ms;
    int64_t expires_ms;
    char *state;       /* "active", "confirmed", "released" */
    int64_t ended_ms;  /* 0 while active */
};

void store_hold_rows_free(struct store_hold *rows, size_t n);

/* Records a grant (state active). Returns 0 or -1 with err. */
int store_hold_add(struct store *s, const struct store_hold *h, char *err, size_t errlen);

/* The holds that count at now_ms (active with expires_ms > now_ms, or
 * confirmed), oldest first; *rows is NULL when there are none. Returns 0
 * or -1. */
int store_hold_active(struct store *s, int64_t now_ms, struct store_hold **rows, size_t *n,
                      char *err, size_t errlen);

/* Marks hold (peer, id) released at now_ms. Returns 0, STORE_NOT_FOUND
 * (no active or confirmed hold of that id), or -1. */
int store_hold_release(struct store *s, const char *peer, const char *id, int64_t now_ms,
                       char *err, size_t errlen);

/* Deletes holds that ended (or expired) before cutoff_ms; *deleted gets
 * how many. */
int store_hold_prune(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err,
                     size_t errlen);

#endif
