/*
 * peer_watch — the agent's view of its peer sites for the status screens:
 * a thread asks every configured peer for its capacity every `peers_poll`
 * (default 30 s) and keeps the latest result per peer with its time.
 *
 * This is for display (GET /v1/status, /metrics, `floe status`, later the
 * dashboard), not for decisions: placement asks the peers afresh at
 * decision time (placement/peer_client.h), since a 30 s old "spare 200
 * kW" is no promise. Each round asks all peers at once through
 * peer_capacity_poll with a timeout of min(5 s, peers_poll / 2), so one
 * dead peer neither delays the others nor makes a round overrun the next.
 *
 * It follows the agent's config snapshot (core/agent.h): a reload
 * (peer_watch_config_changed) rebuilds the list at once — peers that
 * stay with the same URL keep their last result, new ones show as not
 * asked yet, removed ones disappear — and starts a round. It logs on
 * changes only: a peer that stops answering, or starts again (with how
 * long it was out), or stops or starts accepting work; never once per
 * round.
 *
 * Threads: snapshots are copied out under the watcher's lock, which is
 * held only for copying; requests run outside it. peer_watch_stop waits
 * for a round in progress, at most its timeout.
 */
#ifndef FLOE_PEER_WATCH_H
#define FLOE_PEER_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"
#include "placement/peer_client.h"

#define PEER_WATCH_TIMEOUT_MS 5000

/* What the watcher knows of one configured peer. */
struct peer_status {
    char name[PEER_NAME_MAX + 1];
    bool polled;                      /* a round finished since the peer was configured */
    struct peer_capacity_result last; /* the latest result, when polled */
    int64_t checked_ms;               /* wall clock when it came; 0 before */
    int64_t state_since_ms;           /* since when last.state holds */
};

struct peer_watch;

/* A watcher of a's peers without a thread: the caller runs rounds with
 * peer_watch_poll (tests). Borrows a until peer_watch_stop. NULL when out
 * of memory. */
struct peer_watch *peer_watch_new(struct agent *a);
/* The same with its thread, which starts a round at once. NULL with err. */
struct peer_watch *peer_watch_start(struct agent *a, char *err, size_t errlen);
/* Stops the thread if there is one and frees w (NULL: no-op). */
void peer_watch_stop(struct peer_watch *w);

/* One round: asks every peer of the agent's current config and records
 * the results at now_ms. Only one thread may run rounds. */
void peer_watch_poll(struct peer_watch *w, int64_t now_ms);
/* The agent's config was swapped: rebuild the list now, poll soon. */
void peer_watch_config_changed(struct peer_watch *w);

/* Copies every configured peer's status (config order) into a new array
 * (caller frees); returns the count. NULL w gives 0. */
size_t peer_watch_snapshot(struct peer_watch *w, struct peer_status **out);

/* The round timeout for a poll period: min(PEER_WATCH_TIMEOUT_MS, half
 * the period). */
int64_t peer_watch_timeout_ms(int64_t poll_ms);

#endif
