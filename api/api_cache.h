/*
 * api_cache — the last rendered body of each hot read endpoint
 * (/v1/telemetry, /v1/status, /metrics), kept until its inputs change, so
 * that a poll of those endpoints costs a lookup and a copy instead of a
 * render with SQLite reads. Private to the api folder.
 *
 * A render (struct api_render) is immutable once built and counted: the
 * cache holds one reference, each response sending it another, so a new
 * render never frees text that a slow client is still being sent.
 *
 * A render is reused only when both hold:
 *  - its inputs are unchanged: the config generation, metrics_generation()
 *    and store_generation() read before it was rendered are the current
 *    ones, and the copies of the evaluator's policy states and of the peer
 *    watcher's view it was rendered from equal fresh copies (compared byte
 *    for byte: those two have no generation of their own);
 *  - the clock is inside its validity: from the wall and monotonic time it
 *    was rendered at (a clock stepped back renders anew) to the first
 *    moment a fresh render would say something else by time alone (a
 *    metric turning stale, a whole-second age or uptime ticking over; the
 *    endpoint decides, see api.c).
 * Ages with millisecond digits (/v1/telemetry age_s) are not baked in: the
 * render marks where each goes (holes) and every answer writes them for
 * its own time.
 *
 * Bodies do not depend on the caller: these endpoints read no query
 * parameter, and the role check runs before the cache is asked.
 */
#ifndef FLOE_API_CACHE_H
#define FLOE_API_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where an age in seconds (now - ts_ms) goes in a render's text. */
struct api_age_hole {
    size_t at;
    int64_t ts_ms;
};

struct api_render {
    atomic_uint refs;
    char *text; /* NUL-terminated */
    size_t len;
    struct api_age_hole *holes; /* in text order; NULL when none */
    size_t nholes;
};

/* Takes over text (malloc'd, len bytes plus a NUL) and holes; one
 * reference for the caller. NULL (both freed) when out of memory. */
struct api_render *api_render_new(char *text, size_t len, struct api_age_hole *holes,
                                  size_t nholes);
void api_render_ref(struct api_render *r);
void api_render_unref(struct api_render *r); /* NULL: no-op */

/* The text with every hole filled with now_ms - ts (0 when the clock is
 * behind ts), in a new string (caller frees), NULL when out of memory. */
char *api_render_fill(const struct api_render *r, int64_t now_ms, size_t *len);

/* What a render was made from. The byte copies are owned by whoever holds
 * the struct (api_inputs_clear frees them); NULL/0 when the endpoint does
 * not read that input. */
struct api_inputs {
    uint64_t cfg_gen, metrics_gen, store_gen;
    void *policies; /* eval_statuses() array */
    size_t policies_len;
    void *peers; /* peer_watch_snapshot() array */
    size_t peers_len;
};
void api_inputs_clear(struct api_inputs *in);

/* The times between which a render says what a fresh one would. */
struct api_valid {
    int64_t from_ms, until_ms;           /* wall clock: [from, until) */
    int64_t mono_from_ms, mono_until_ms; /* monotonic clock: [from, until) */
};

struct api_slot {
    pthread_mutex_t lock;        /* guards the fields below */
    pthread_mutex_t render_lock; /* one render at a time; taken before lock */
    struct api_render *render;   /* NULL: nothing cached */
    struct api_inputs inputs;
    struct api_valid valid;
    uint64_t renders;            /* how many were made (tests) */
};

struct api_cache {
    struct api_slot telemetry, status, prometheus;
};

/* NULL when out of memory. */
struct api_cache *api_cache_new(void);
void api_cache_free(struct api_cache *cache); /* NULL: no-op */

/* A reference to the slot's render when its inputs equal in and now_ms,
 * mono_ms are inside its validity; else NULL. */
struct api_render *api_slot_get(struct api_slot *slot, const struct api_inputs *in,
                                int64_t now_ms, int64_t mono_ms);
/* A reference to the slot's last render whatever its inputs and validity
 * (served while another thread makes the next), NULL when none. */
struct api_render *api_slot_last(struct api_slot *slot);
/* Keeps r (takes a reference of its own) with the inputs it was made from
 * (moved out of *in) and its validity, in place of what the slot held. */
void api_slot_put(struct api_slot *slot, struct api_inputs *in, const struct api_valid *valid,
                  struct api_render *r);

#endif
