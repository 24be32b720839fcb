/*
 * agent — the context that ties the daemon together: configuration,
 * live metrics, the store, the device pollers and the HTTP server.
 *
 * agent/daemon.c owns it and its threads. Other modules get a pointer and
 * read what they need: the configuration under cfg_lock (read lock for the
 * length of one request or tick; write lock only while main swaps in a
 * reloaded config), metrics and store through their own thread-safe calls.
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
struct evaluator;

struct agent {
    pthread_rwlock_t cfg_lock;
    struct floe_config *cfg;        /* owned; swapped on reload */
    uint64_t cfg_generation;        /* +1 on every swap (under the write lock) */
    struct metrics *metrics;        /* owned */
    struct store *store;            /* owned */
    struct poller_set *pollers;     /* owned */
    struct api_server *api;         /* owned */
    struct evaluator *evaluator;    /* owned; NULL in tests without policies */
    int64_t started_ms;             /* wall clock at start */
    int64_t started_mono_ms;
};

#endif
