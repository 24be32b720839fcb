/*
 * peer_client — this agent asking the peer sites' agents (SPEC 5): how
 * much capacity they have (GET /v1/capacity), a reservation of some of it
 * (POST /v1/reservations), and its release (DELETE /v1/reservations/{id}).
 *
 * A peer is another machine that may be down, slow, misconfigured or
 * hostile, so every answer is checked strictly where it enters, and a
 * peer whose answer cannot be used is *skipped* with a reason a person can
 * act on:
 *   "unreachable: <the transport error, naming the URL>"
 *   "refused: HTTP 401: <the answer's `error` text when it is JSON>"
 *   "garbage answer: <what exactly is wrong>"  (not JSON at byte N,
 *       spare_kw is not a number, site is 'x', expected 'y', ...)
 * Strings from a peer that end up in a reason or the log are cut short
 * and have control characters replaced, so a peer cannot forge log lines.
 *
 * A capacity answer is usable when it is one JSON object of at most
 * PEER_ANSWER_MAX bytes with every SPEC field once and of the right type:
 * site (a string, equal to the name the peer has in our config: a URL
 * pointing at the wrong site, or at ourselves, is caught here), accepting
 * (bool), spare_kw and reserved_kw (finite, >= 0), power_headroom_kw and
 * cooling_headroom_kw (finite, or null while the peer's inputs are
 * unknown), ingress (a string, or null for a peer without site.ingress),
 * as_of (an RFC 3339 time). Every kW figure must be within
 * ±PEER_MAX_KW. Keys SPEC does not name are ignored (a newer peer may
 * say more).
 *
 * The parsers are pure functions of (text, len) so that unit tests and
 * the fuzz target (tests/fuzz/fuzz_peer_answer.c) reach them without a
 * network. The requests go through lib/httpc: http/https only, the peer's
 * ca_file, answers capped at PEER_ANSWER_MAX, one timeout per request;
 * peer_capacity_all asks all peers at once, so a dead peer costs its own
 * timeout and not the sum of everyone's.
 *
 * Reservations and what this client does about a bad grant: a 2xx answer
 * to POST /v1/reservations that we cannot use (kw differs from what was
 * asked, expires_at missing or not a time) still holds capacity at the
 * peer. When its id is usable, peer_reserve releases it at once (DELETE)
 * and reports an error saying so; when the id itself is bad (missing,
 * empty, longer than PEER_ID_MAX, characters outside [A-Za-z0-9._-], or
 * only dots, which a URL would read as a path step) it cannot be named
 * safely in a URL, so nothing is sent and the reservation is left to
 * expire after its ttl_s (SPEC 5: unconfirmed reservations expire); the
 * reason says that too. The same holds for a request that timed out: the
 * peer may have granted it, and the grant expires unused.
 *
 * Logging: peer_capacity_all logs each skipped peer once per call, and
 * peer_reserve each refusal and error once, with the reason (warning
 * level); callers need not log them again. peer_capacity_poll is
 * peer_capacity_all without the log, for a watcher that logs changes
 * only (core/peer_watch.c). peer_release returns its error for the
 * caller to log and logs only a 404 (already gone, counted as released).
 *
 * Ownership: peers (struct cfg_peer) are borrowed for the call; results
 * are plain structs the caller owns, with no pointers into anything.
 */
#ifndef FLOE_PEER_CLIENT_H
#define FLOE_PEER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define PEER_ANSWER_MAX (64 * 1024) /* bytes; a longer answer is garbage */
#define PEER_ID_MAX 64              /* characters of a reservation id */
#define PEER_NAME_MAX 64            /* a site name (config's cfg_check_name) */
#define PEER_REASON_MAX 400
/* No site has ten gigawatts: a larger kW figure is a broken or hostile
 * peer trying to attract every workload, not capacity. */
#define PEER_MAX_KW 1e7

/* Why a peer's capacity is or is not usable. Zero is "not asked", so a
 * zeroed result never passes for a usable one. */
enum peer_state {
    PEER_NOT_ASKED,   /* no request made (yet) */
    PEER_OK,          /* a usable answer */
    PEER_UNREACHABLE, /* no HTTP answer: refused connection, timeout, TLS, DNS */
    PEER_REFUSED,     /* an HTTP answer other than 2xx (401, 403, 500, ...) */
    PEER_GARBAGE,     /* a 2xx answer that is not a valid capacity answer */
};

/* "pending" (not asked), "ok", "unreachable", "refused", "garbage". */
const char *peer_state_name(enum peer_state s);

/* One valid answer of GET /v1/capacity. */
struct peer_capacity {
    char site[PEER_NAME_MAX + 1];
    bool accepting;
    double spare_kw;            /* 0 .. PEER_MAX_KW */
    double power_headroom_kw;   /* NAN when the peer said null (its inputs unknown) */
    double cooling_headroom_kw; /* NAN likewise */
    double reserved_kw;         /* 0 .. PEER_MAX_KW */
    char ingress[256];          /* "" when the peer said null */
    int64_t as_of_ms;
};

/* What asking one peer for its capacity gave. */
struct peer_capacity_result {
    char name[PEER_NAME_MAX + 1]; /* the peer's name in our config */
    enum peer_state state;
    struct peer_capacity cap;     /* valid when state is PEER_OK */
    long http_status;             /* 0 when no HTTP answer came */
    int64_t latency_ms;           /* how long the request took */
    char reason[PEER_REASON_MAX]; /* "" when PEER_OK; else "unreachable: ...", "refused: ...",
                                     "garbage answer: ..." */
};

/* Parses a capacity answer text[0..len) (need not be NUL-terminated; any
 * bytes). expected_site: the name the answer's site must have (NULL: any).
 * Returns 0 with *out filled, or -1 with what is wrong in err (without the
 * "garbage answer: " prefix). */
int peer_parse_capacity(const char *text, size_t len, const char *expected_site,
                        struct peer_capacity *out, char *err, size_t errlen);

/* Asks every peer concurrently; results[i] is peers[i]'s outcome (the
 * caller provides npeers results). Returns how many are PEER_OK. Takes at
 * most about timeout_ms (<= 0: 10 s) whatever the peers do. Logs each
 * skipped peer once. */
size_t peer_capacity_all(const struct cfg_peer *peers, size_t npeers, int64_t timeout_ms,
                         struct peer_capacity_result *results);
/* The same without logging. */
size_t peer_capacity_poll(const struct cfg_peer *peers, size_t npeers, int64_t timeout_ms,
                          struct peer_capacity_result *results);

/* ---- reservations ---- */

/* A granted reservation (201 of POST /v1/reservations). */
struct peer_grant {
    char id[PEER_ID_MAX + 1]; /* [A-Za-z0-9._-], not only dots; a JSON number id as its text */
    double kw;
    int64_t expires_at_ms;
};

/* Whether id may name a reservation in a URL (the rules above). */
bool peer_id_valid(const char *id);

/* Parses a grant text[0..len) for a request of asked_kw. Returns 0 with
 * *out filled, or -1 with what is wrong in err; on failure out->id still
 * holds the answer's id when that id is valid (the caller can release the
 * reservation), else "". */
int peer_parse_grant(const char *text, size_t len, double asked_kw, struct peer_grant *out,
                     char *err, size_t errlen);

/* Reads a refusal (409 {"error", "spare_kw"}): *spare_kw gets the peer's
 * spare kW, or NAN when the answer does not give a valid one; error (size
 * n) the answer's error text, cleaned for a log line, or "". Returns 0
 * when both were there and valid, -1 otherwise (the refusal stands
 * either way). */
int peer_parse_refusal(const char *text, size_t len, double *spare_kw, char *error, size_t n);

enum peer_reserve_outcome {
    PEER_GRANTED,
    PEER_RESERVE_REFUSED, /* 409: the peer has not got the capacity */
    PEER_RESERVE_ERROR,   /* unreachable, garbage, any other status, bad arguments */
};

struct peer_reservation {
    enum peer_reserve_outcome outcome;
    struct peer_grant grant; /* valid when PEER_GRANTED */
    double spare_kw;         /* PEER_RESERVE_REFUSED: the peer's spare kW, NAN if unsaid */
    long http_status;        /* 0 when no HTTP answer came */
    int64_t latency_ms;
    char reason[PEER_REASON_MAX]; /* "" when granted */
};

/* POST {url}/v1/reservations {"from_site", "workload", "kw", "ttl_s"} to
 * peer. kw must be finite and > 0, ttl_s > 0, from_site and workload
 * non-empty (else nothing is sent). Returns 0 when granted, -1 otherwise
 * with out->outcome and out->reason. A grant that cannot be used is
 * released (see the top of this file), which may take a second
 * timeout_ms. */
int peer_reserve(const struct cfg_peer *peer, const char *from_site, const char *workload,
                 double kw, int64_t ttl_s, int64_t timeout_ms, struct peer_reservation *out);

/* DELETE {url}/v1/reservations/{id}. Returns 0 when released (2xx) or
 * already gone (404, logged); -1 with err otherwise (an invalid id is not
 * sent). */
int peer_release(const struct cfg_peer *peer, const char *id, int64_t timeout_ms, char *err,
                 size_t errlen);

/* ---- the rules of a peer's answer, for the other clients of peer agents
 * (migrator/mig_peer: imports) ---- */

struct cJSON;
/* text[0..len) as one JSON object of at most PEER_ANSWER_MAX bytes and
 * nothing else (no NUL byte, nothing after it). A new tree (free with
 * cJSON_Delete) or NULL with what is wrong in err. */
struct cJSON *peer_answer_object(const char *text, size_t len, char *err, size_t errlen);
/* The one member key of o; NULL with err when missing or given twice. */
const struct cJSON *peer_answer_member(const struct cJSON *o, const char *key, char *err,
                                       size_t errlen);
/* "a string", "a number", ... for messages. */
const char *peer_json_type_name(const struct cJSON *v);
/* src cut to max characters ("..." then) as printable ASCII into dst
 * (size n): a peer's text for a reason or a log line. */
void peer_clean_text(char *dst, size_t n, const char *src, size_t max);
/* The `error` text of a JSON error answer, cleaned, or "". */
void peer_answer_error(const char *text, size_t len, char *out, size_t n);

#endif
