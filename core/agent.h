/*
 * agent — the context that ties the daemon together: configuration,
 * live metrics, the store, the device pollers, the peer watcher, the
 * inventory of workloads, the migrator and the HTTP server.
 *
 * agent/daemon.c owns it and its threads. Other modules get a pointer and
 * read what they need: the configuration as a snapshot (below), metrics
 * and store through their own thread-safe calls.
 *
 * The configuration is an immutable, reference-counted snapshot
 * (config/config.h). The agent holds one reference to the current one;
 * agent_config_get hands out another, which the caller keeps for as long
 * as it reads (one HTTP request, one policy tick, later one migration) and
 * then drops with config_unref. A reload loads and validates the next
 * config without any lock and publishes it with agent_config_swap, which
 * holds the agent's mutex only to exchange one pointer: it never waits for
 * a reader, and a reader never waits for a tick, a request or SQLite. The
 * old config lives on until its last holder lets go.
 */
#ifndef FLOE_AGENT_H
#define FLOE_AGENT_H

#include <pthread.h>
#include <stdint.h>

#include "config/config.h"
#include "core/metrics.h"
#include "store/store.h"

#define FLOE_VERSION "0.1.0"

struct poller_set;
struct api_server;
struct api_cache;
struct evaluator;
struct recorder;
struct cap_cache;
struct peer_watch;
struct inv_watch;
struct migrator;
struct importer;

struct agent {
    pthread_mutex_t cfg_mutex;      /* guards the two fields below, for a pointer copy only */
    struct floe_config *cfg_snap;   /* the agent's reference; use agent_config_get */
    uint64_t cfg_generation;        /* +1 on every swap */
    /* One placement at a time, held from asking the peers until its
     * reservations are recorded as holds (core/placer.h): the policy
     * thread and an approving HTTP thread must not both reserve the same
     * workloads. Set up with the config snapshot (agent_config_init). */
    pthread_mutex_t place_lock;
    struct metrics *metrics;        /* owned */
    struct store *store;            /* owned */
    struct poller_set *pollers;     /* owned */
    struct api_server *api;         /* owned */
    struct api_cache *api_cache;    /* owned by api_start/api_stop; the hot endpoints' last
                                       bodies (api/api_cache.h); NULL: rendered per request */
    struct evaluator *evaluator;    /* owned; NULL in tests without policies */
    struct recorder *recorder;      /* the daemon's; NULL in tests without a store thread */
    struct cap_cache *capacity;     /* owned; compiled capacity expressions (core/capacity.h);
                                       NULL: compiled per call */
    struct peer_watch *peers;       /* owned; the peers' latest capacity for display;
                                       NULL in tests without it */
    struct inv_watch *inventory;    /* owned; the workloads (core/inv_watch.h); NULL in tests
                                       without one */
    struct migrator *migrator;      /* owned; the migrations this site runs (core/migrator.h);
                                       NULL in tests without one */
    struct importer *importer;      /* owned; imports for peers (core/importer.h); NULL in
                                       tests without one */
    /* Set by the daemon before any thread starts; called from any thread
     * after a reservation is granted, so the daemon's loop, which marks
     * reservations expired at their TTL and otherwise sleeps until the
     * next one is due, learns the new deadline. NULL: nobody to tell. */
    void (*reservation_granted)(void);
    /* Set by the daemon; called after reservations held at peers were
     * recorded (core/placer.c), so the migrator, which sleeps while it
     * has nothing to run, starts their migrations now. NULL: nobody. */
    void (*holds_recorded)(struct agent *a);
    int64_t started_ms;             /* wall clock at start */
    int64_t started_mono_ms;
};

/* Sets up the snapshot and publishes cfg (generation 0), taking over the
 * caller's reference to it. */
void agent_config_init(struct agent *a, struct floe_config *cfg);
/* Drops the agent's reference and tears the snapshot down; every other
 * thread that reads it must have stopped. */
void agent_config_clear(struct agent *a);

/* A new reference to the current config: the caller releases it with
 * config_unref. The _gen form also gives the generation it belongs to
 * (equal generations mean the same config). */
struct floe_config *agent_config_get(struct agent *a);
struct floe_config *agent_config_get_gen(struct agent *a, uint64_t *generation);

/* Publishes next as the current config, taking over the caller's
 * reference; bumps the generation and drops the agent's reference to the
 * previous config (freed now, or by its last holder). */
void agent_config_swap(struct agent *a, struct floe_config *next);

#endif
