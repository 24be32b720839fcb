/*
 * store_resv — the reservation book (SPEC 5): kW this site has promised
 * to peers, kept in the store so that a promise outlives a crash.
 *
 * A reservation is `active` from its grant until it is `released`
 * (DELETE, or the end of the migration it was for) or, while unconfirmed,
 * `expired` (its TTL passed before an import confirmed it). An active
 * reservation counts against the site's capacity while it is confirmed,
 * or unconfirmed and not yet past expires_ms: counting goes by the clock,
 * so a reservation stops counting the moment its TTL ends, whether or not
 * store_resv_expire has marked it yet. Ended rows are kept (with when and
 * why they ended) until store_resv_prune removes them with the rest of
 * the history past the retention.
 *
 * Granting is one BEGIN IMMEDIATE transaction on the writer connection:
 * the active sum is read and the new row inserted only if sum + kw stays
 * within the limit the caller computed, so grants from any number of
 * threads (or processes on the same file) can never together pass it.
 * Grants, releases and confirmations are committed with synchronous=FULL
 * before the function returns: a grant the peer was told about survives
 * kill -9 and a power cut alike.
 *
 * Ids are "rsv-" and 16 hex digits from getrandom(): unguessable, and
 * not reused after the database is deleted, as a counter would be.
 * Time comes in as arguments (wall-clock ms); nothing here reads a clock.
 */
#ifndef FLOE_STORE_RESV_H
#define FLOE_STORE_RESV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h" /* struct store, STORE_NOT_FOUND, STORE_CONFLICT */

/* "rsv-" + 16 hex digits, and the NUL. */
#define STORE_RESV_ID_SIZE 21

enum store_resv_state { STORE_RESV_ACTIVE, STORE_RESV_RELEASED, STORE_RESV_EXPIRED };

struct store_resv {
    char id[STORE_RESV_ID_SIZE];
    char *from_site, *workload;
    char *granted_by;           /* the token name the grant was made to */
    double kw;
    int64_t created_ms;
    int64_t expires_ms;         /* end of the TTL; no longer applies once confirmed */
    int64_t confirmed_ms;       /* 0 = not confirmed */
    enum store_resv_state state;
    int64_t ended_ms;           /* released or expired at; 0 while active */
    char *ended_by;             /* who released it; NULL while active or when expired */
};

/* Frees the strings of one row (and zeroes it); of an array and the array. */
void store_resv_clear(struct store_resv *r);
void store_resv_rows_free(struct store_resv *rows, size_t n);
const char *store_resv_state_name(enum store_resv_state s);

struct store_resv_request {
    const char *from_site, *workload;
    const char *granted_by;     /* token name, recorded with the row */
    double kw;                  /* > 0 */
    int64_t ttl_ms;             /* > 0 */
};

/* Grants req at now_ms if the active reservations plus req->kw stay
 * within limit_kw. Returns 0 with the new row in *out (clear it with
 * store_resv_clear), STORE_CONFLICT when it would not fit, or -1 with
 * err. *active_kw (may be NULL) gets the active sum the decision was made
 * on, without the new row: spare after a refusal is limit_kw - *active_kw. */
int store_resv_grant(struct store *s, const struct store_resv_request *req, double limit_kw,
                     int64_t now_ms, struct store_resv *out, double *active_kw, char *err,
                     size_t errlen);

/* Releases reservation id at now_ms, recording by (a token name). With
 * owner not NULL only a reservation granted to that token name is found.
 * Returns 0 when it was active and is released now, STORE_CONFLICT when it
 * had already ended (released or expired; nothing changes), each with the
 * row as it stands in *out (may be NULL); STORE_NOT_FOUND, or -1. */
int store_resv_release(struct store *s, const char *id, const char *owner, const char *by,
                       int64_t now_ms, struct store_resv *out, char *err, size_t errlen);

/* Confirms reservation id (its import started): from now on it counts
 * until released, whatever its TTL. Returns 0 (also when it was confirmed
 * already), STORE_CONFLICT when it has ended or its TTL passed before
 * now_ms, STORE_NOT_FOUND, or -1. */
int store_resv_confirm(struct store *s, const char *id, int64_t now_ms, char *err, size_t errlen);

/* Marks every unconfirmed active reservation whose TTL ended at or before
 * now_ms as expired (ended at its expires_ms). *rows gets the rows marked
 * by this call, so each expiry is reported once (caller frees with
 * store_resv_rows_free; NULL when none). */
int store_resv_expire(struct store *s, int64_t now_ms, struct store_resv **rows, size_t *n,
                      char *err, size_t errlen);

/* The earliest TTL end (expires_ms) of the unconfirmed active
 * reservations, the next time store_resv_expire has something to mark:
 * *expires_ms gets it, or 0 when there is none. Returns 0 or -1. */
int store_resv_next_expiry(struct store *s, int64_t *expires_ms, char *err, size_t errlen);

/* Sum of kW of the reservations counting at now_ms (see above). */
int store_resv_active_kw(struct store *s, int64_t now_ms, double *kw, char *err, size_t errlen);

/* The reservations counting at now_ms (all rows, ended ones too, when
 * include_ended), oldest grant first; caller frees with
 * store_resv_rows_free. With owner not NULL, only those granted to it. */
int store_resv_list(struct store *s, int64_t now_ms, bool include_ended, const char *owner,
                    struct store_resv **rows, size_t *n, char *err, size_t errlen);

/* One reservation: 0, STORE_NOT_FOUND or -1. */
int store_resv_get(struct store *s, const char *id, struct store_resv *out, char *err,
                   size_t errlen);

/* Deletes the rows that ended before cutoff_ms (retention); active ones
 * stay whatever their age. *deleted (may be NULL) gets the count. */
int store_resv_prune(struct store *s, int64_t cutoff_ms, int64_t *deleted, char *err,
                     size_t errlen);

#endif
