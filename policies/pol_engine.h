/*
 * pol_engine — the per-policy state machines (SPEC 3, 3.3 first part) and
 * the site-time helpers their schedules need.
 *
 * pol_engine_new() compiles the policies of a config (parses `when`,
 * `clear` and `action.kw`); pol_engine_tick() advances one policy by one
 * evaluation and says whether a decision is due. Time comes in through the
 * struct pol_env (now_ms and the site local time), data through its
 * callbacks: nothing here reads a clock, and apart from pol_tz_load()
 * (which reads a zoneinfo file, once, at config load) nothing does I/O.
 *
 * States: ok -> pending (`when` true, `for` not yet held) -> firing ->
 * ok once `clear` (default !(when)) has held for `clear_for`.
 *
 * Exact rules, one tick at a time (W = `when`, C = `clear`):
 *   ok       W true: pending; if `for` is 0, firing in the same tick.
 *            W false or unknown: stays ok.
 *   pending  W true: the time since the previous tick counts towards `for`
 *            when that tick also saw W true; firing once `for` is reached.
 *            W false: ok (noise around a threshold resets the wait).
 *            W unknown: holds; the wait neither resets nor advances (the
 *            interval from an unknown tick to the next known one is not
 *            counted), so a data gap never makes a policy fire sooner.
 *   firing   W unknown or C unknown: holds (SPEC 3.2: an unknown `when`
 *            neither fires nor clears).
 *            C true: counts towards `clear_for` like `for` above; ok once
 *            reached (at once when `clear_for` is 0).
 *            C false: the clear wait restarts.
 *   "unknown" is reported whenever the expression that decides the next
 *   transition (W in ok/pending; W or C in firing) was unknown.
 *
 * Decisions: one on entering firing, then one each time `cooldown` has
 * passed since the previous one while still firing (also while inputs are
 * unknown: the decision layer records "inputs unknown" rather than
 * acting). cooldown 0 means only the decision on entering firing.
 *
 * Schedules: a policy with a schedule is evaluated only inside its window
 * (start <= local time < end, on the listed days; a window that crosses
 * midnight belongs to the day it starts on). When the window closes, a
 * pending or firing policy goes back to ok at once (why = "window
 * closed"): nothing fires, re-decides or carries a half-held `for` outside
 * the window, and each window starts afresh, so a rebalance that is still
 * wanted next night yields a new decision when the window opens.
 * Migrations already started are not the engine's business and go on.
 * Windows follow the wall clock of the site: on the spring-forward day a
 * window inside the skipped hour never opens, on the fall-back day a
 * window inside the repeated hour is open twice (both times).
 *
 * Threads: an engine is not locked; the agent ticks it from its policy
 * thread and copies status out under its own lock for the API.
 */
#ifndef FLOE_POL_ENGINE_H
#define FLOE_POL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "policies/pol_lang.h"

/* ---- site time ---------------------------------------------------------- */

/* A loaded time zone: immutable after loading, so one may be shared by any
 * number of threads, and converting is a binary search (no TZ environment
 * variable, no tzset(), no lock). */
struct pol_tz;

/* Loads a zone by IANA name ("Europe/Stockholm") from $TZDIR or
 * /usr/share/zoneinfo, or, when no such file exists, from a POSIX TZ rule
 * ("CET-1CEST,M3.5.0,M10.5.0/3"); "UTC" works without tzdata. Returns 0
 * and *out (free with pol_tz_free), or -1 with err filled. Leap-second
 * ("right/") zones are read as if they had none. */
int pol_tz_load(const char *name, struct pol_tz **out, char *err, size_t errlen);
/* The same from the bytes of a TZif file (RFC 8536, versions 1-4). */
int pol_tz_from_tzif(const unsigned char *data, size_t len, struct pol_tz **out, char *err,
                     size_t errlen);
void pol_tz_free(struct pol_tz *tz);
/* Site local time at ms (Unix milliseconds). */
void pol_tz_local(const struct pol_tz *tz, int64_t ms, struct pol_local *out);

/* Convenience for one-off conversions: loads tz, converts, frees. Thread
 * safe (it touches no global state), but it reads the zone file on every
 * call: a tick loop or replay should load the zone once with pol_tz_load.
 * Returns 0, or -1 when tz cannot be loaded. */
int pol_local_time(int64_t ms, const char *tz, struct pol_local *out);

/* Whether local time l is inside a schedule window (see the rules above).
 * start_min/end_min are minutes after midnight (end may be < start, which
 * wraps past midnight; end 1440 means midnight; start == end is the whole
 * day); days_mask bit 0 = Monday .. bit 6 = Sunday, 0 = every day. */
bool pol_window_open(int start_min, int end_min, unsigned days_mask, const struct pol_local *l);

/* The occurrence of a schedule window (same parameters) that is open at
 * now_ms, in the site time of tz: *from_ms its first minute, *until_ms the
 * first minute after it, both whole UTC minutes. A window open on
 * consecutive local days without a break (a whole-day window) is cut
 * where the local date changes (local midnight, or the first minute after
 * it where the clocks skip 00:00), so each day is one occurrence; a window that repeats an
 * hour when the clocks go back is one occurrence, as the engine keeps it
 * open. Returns 0, or -1 when the window is not open at now_ms. What
 * counts per window (a rebalance's max_migrations) is counted from
 * *from_ms. */
int pol_window_bounds(const struct pol_tz *tz, int start_min, int end_min, unsigned days_mask,
                      int64_t now_ms, int64_t *from_ms, int64_t *until_ms);

/* ---- engine ------------------------------------------------------------- */

enum pol_state { POL_STATE_OK, POL_STATE_PENDING, POL_STATE_FIRING };
const char *pol_state_name(enum pol_state s); /* "ok", "pending", "firing" */

/* All of one policy's dynamic state: copy it out to report or persist it,
 * copy it back with pol_engine_set_status to resume after a restart. */
struct pol_status {
    enum pol_state state;
    int64_t since_ms;         /* when state was entered (0 before the first tick) */
    bool unknown;             /* last tick: the deciding expression was unknown */
    bool in_window;           /* last tick: inside the schedule window (or none) */
    int64_t held_ms;          /* pending: how long `when` has held; firing: `clear` */
    bool clearing;            /* firing: `clear` is currently holding */
    enum pol_truth last;      /* last tick's value of the deciding expression */
    int64_t last_tick_ms;     /* 0 = never ticked */
    int64_t last_decision_ms; /* in the current firing; 0 = none */
    uint64_t decisions;       /* decisions yielded since the engine was made */
};

enum pol_decide {
    POL_DECIDE_NONE,
    POL_DECIDE_FIRED,    /* the policy has just entered firing */
    POL_DECIDE_COOLDOWN, /* still firing, cooldown passed since the last one */
};

/* What one tick did. */
struct pol_tick {
    enum pol_state prev, state;
    bool changed;         /* state != prev */
    const char *why;      /* static text for the log line: "when true", "for
                             held", "when false", "clear held", "window closed" */
    enum pol_truth when;  /* UNKNOWN also when not evaluated (outside the window) */
    enum pol_truth clear; /* evaluated while firing only; UNKNOWN otherwise */
    bool unknown;         /* as pol_status.unknown */
    bool in_window;
    enum pol_decide decide; /* a decision is due now */
};

struct pol_engine;

/* Compiles policies[0..n-1]. Returns 0 and a new engine (free with
 * pol_engine_free), or -1 with the first error in err, named by path:
 * "policies[2].when: unknown function 'avgg' at column 5". The engine
 * copies what it needs; cfg may be freed afterwards. */
int pol_engine_new(struct pol_engine **out, const struct cfg_policy *policies, size_t n, char *err,
                   size_t errlen);
void pol_engine_free(struct pol_engine *eng);

/* Checks one policy as pol_engine_new would; path prefixes messages
 * ("policies[2]", "body"). For check-config (to list every bad policy)
 * and PUT /v1/policies. */
int pol_policy_check(const struct cfg_policy *p, const char *path, char *err, size_t errlen);

size_t pol_engine_count(const struct pol_engine *eng);
const char *pol_engine_name(const struct pol_engine *eng, size_t i);
/* Index of the policy called name, or -1. */
int pol_engine_find(const struct pol_engine *eng, const char *name);

/* The compiled expressions of policy i (for listing inputs); clear is NULL
 * when it defaults to !(when), kw NULL when the policy has none. */
const struct pol_expr *pol_engine_when(const struct pol_engine *eng, size_t i);
const struct pol_expr *pol_engine_clear(const struct pol_engine *eng, size_t i);
const struct pol_expr *pol_engine_kw(const struct pol_engine *eng, size_t i);

/* Advances policy i to env->now_ms, evaluating its expressions against env
 * (env->local must be set for a policy with a schedule; without it the
 * window counts as closed). Fills *out. Returns 0, or -1 for a bad index.
 * Ticks should come in time order; a tick earlier than the previous one
 * counts as no time passed. Never allocates. */
int pol_engine_tick(struct pol_engine *eng, size_t i, const struct pol_env *env,
                    struct pol_tick *out);

/* The earliest wall-clock time at which some policy changes state or
 * owes a decision by time alone, its inputs staying as they were at its
 * last tick: a pending `for` or a firing policy's `clear_for` being held
 * out (counted from the last tick, which saw the expression true), or a
 * cooldown ending. 0 when nothing is due that way (then only new data,
 * or time-based functions and schedule windows, change anything). A time
 * before the last tick means "due now". Pure: reads the statuses only. */
int64_t pol_engine_next_due(const struct pol_engine *eng);

/* Evaluates action.kw of policy i. Returns 1 and *kw, 0 when unknown, -1
 * when the policy has no kw expression. */
int pol_engine_action_kw(const struct pol_engine *eng, size_t i, const struct pol_env *env,
                         double *kw);

void pol_engine_status(const struct pol_engine *eng, size_t i, struct pol_status *out);
void pol_engine_set_status(struct pol_engine *eng, size_t i, const struct pol_status *st);

/* After a config reload: every policy of `to` whose name exists in `from`
 * takes over its status, so a reload does not reset a firing policy (nor
 * yield a second "fired" decision). */
void pol_engine_adopt(struct pol_engine *to, const struct pol_engine *from);

#endif
