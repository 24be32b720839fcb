/*
 * inv_watch — keeps the agent's inventory of workloads fresh: a thread
 * that reads it every workloads.refresh (default 1 min), at once when
 * asked (POST /v1/workloads/refresh), and after a reload.
 *
 * Static workloads come from the config; Kubernetes ones from the API
 * server (placement/inv_fetch.c) through a client built from the config
 * and kept between reads, so its token keeps its re-read schedule; a
 * reload builds a new one. When the API server cannot be read, the last
 * good inventory stays in use, with the time it was read, so a reader
 * sees how old it is; the outage is logged once when it starts and once
 * when it ends, not at every refresh. A namespace left out, or found not
 * movable, is logged when that first happens or its reason changes.
 *
 * Readers (placement, the API) take a snapshot with inv_watch_view: a
 * reference to the immutable inventory (inv_unref when done) and the
 * state of the refresh, copied under a lock held for a pointer copy
 * only. A read in progress never makes a reader wait.
 */
#ifndef FLOE_INV_WATCH_H
#define FLOE_INV_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/agent.h"
#include "placement/inventory.h"

struct inv_watch;

/* Starts the thread; borrows a until inv_watch_stop. NULL with err when
 * the thread cannot start. */
struct inv_watch *inv_watch_start(struct agent *a, char *err, size_t errlen);
/* The same without the thread: the caller drives it with inv_watch_tick
 * (tests). NULL when out of memory. */
struct inv_watch *inv_watch_new(struct agent *a);
/* Stops the thread if there is one (a read in progress is cut short
 * between namespaces) and frees w. NULL is a no-op. */
void inv_watch_stop(struct inv_watch *w);

/* One refresh now: wall clock now_ms, monotonic mono_ms. The thread
 * calls it when a refresh is due; one thread at a time. */
void inv_watch_tick(struct inv_watch *w, int64_t now_ms, int64_t mono_ms);

/* Asks for a refresh at once (the thread wakes); returns immediately
 * with the request's number: the refresh that serves it is done when the
 * view's requests_served reaches that number. */
uint64_t inv_watch_request(struct inv_watch *w);
/* The agent's config was swapped: rebuild the client and refresh now. */
void inv_watch_config_changed(struct inv_watch *w);

/* What GET /v1/workloads and placement see. */
struct inv_view {
    struct inventory *inv;    /* a reference (inv_unref), or NULL: none read yet, or no
                                 workloads.source */
    char source[16];          /* "static", "kubernetes", "" for none */
    int64_t attempted_ms;     /* the last refresh that finished (0 = none yet) */
    int64_t failing_since_ms; /* 0 while the last refresh succeeded */
    char error[640];          /* why the last refresh failed; "" when it did not */
    char token_warning[320];  /* the token file could not be re-read; "" when it could */
    uint64_t refreshes;       /* refreshes finished (any outcome) */
    uint64_t requests_served; /* requests (inv_watch_request) that a finished refresh
                                 began after */
};

/* Fills out; every field is a copy except inv, a new reference. */
void inv_watch_view(struct inv_watch *w, struct inv_view *out);

#endif
