/*
 * check — the verdict of `floe check` (the Nagios/Icinga plugin, SPEC 1)
 * as a pure function of the agent's answers: parsed GET /v1/status and
 * GET /v1/migrations in, exit code and the plugin's one line out. No I/O,
 * no clock (now is passed in), so every rule below is unit-tested without
 * an agent; agent/cmd_check.c does the asking and the printing.
 *
 * What counts:
 *   CRITICAL  a policy of severity critical firing; a migration that
 *             failed: it is rolling back, or it ended rolled-back at most
 *             failed_within ago — unless it rolls back because someone
 *             asked (`floe abort`: the rollback's recorded reason is the
 *             abort), which is an operator's decision, not a fault; spare
 *             kW below spare_crit_kw. (The migrator ends a migration only
 *             `done` or `rolled-back`; a result `failed`, which SPEC's
 *             list allows and this agent never reports, would count like
 *             a rollback.)
 *   UNKNOWN   an answer the check cannot read (a status field missing or
 *             of the wrong type, the migrations list unreadable). When
 *             the status is unreadable from some field on, what was read
 *             before it is lost, except a CRITICAL already seen: that
 *             stays CRITICAL (with the unreadable field named, no
 *             perfdata); when only the migrations are unreadable, what
 *             the status shows still counts and a CRITICAL stays CRITICAL.
 *   WARNING   a policy of severity warning firing; a collector failing; a
 *             peer unreachable, refusing us, answering garbage, or in a
 *             state this check does not know;
 *             migrations unknown (the agent cannot read its database);
 *             spare kW below spare_warn_kw, or unknown while a spare
 *             threshold is set.
 *   OK        none of these.
 * The exit code is the worst of what counts (CRITICAL > UNKNOWN >
 * WARNING > OK: a fault the check sees is never hidden behind one it
 * cannot see). The line names every problem, the worst first:
 *   FLOE CRITICAL - cooling-shortfall firing; peer oslo-2 unreachable | spare_kw=0;;;0 ...
 * Text from the agent (names, reasons) is cut short and has its control
 * characters and any `|` (which would start the perfdata) replaced.
 *
 * Perfdata (Nagios plugin guidelines, label=value;warn;crit;min;max, no
 * unit: kW is none of the guidelines' units, so the label says it):
 *   spare_kw            the site's spare kW for peers (U while unknown),
 *                       with the thresholds as `N:` ranges when given
 *   firing_critical     critical policies firing (crit 0: any is CRITICAL)
 *   firing_warning      warning policies firing (warn 0)
 *   collectors_failing  failing devices (warn 0; max = devices)
 *   peers_down          peers that cannot be used (warn 0; max = peers)
 *   migrations_active   migrations from this site under way (U when unknown)
 */
#ifndef FLOE_CHECK_H
#define FLOE_CHECK_H

#include <stdint.h>

#include <cjson/cJSON.h>

/* Nagios plugin exit codes. */
enum check_code { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

/* A migration that ended in failure stays CRITICAL this long by default:
 * long enough for a check run every few minutes to raise it (soft and
 * hard states included), short enough that the service recovers, and
 * the next fault notifies again, without anyone clearing it. */
#define CHECK_FAILED_WITHIN_DEFAULT_MS (60 * 60 * 1000)

struct check_opts {
    double spare_warn_kw;     /* WARNING when spare kW is below it; NAN = no threshold */
    double spare_crit_kw;     /* CRITICAL when below it; NAN = no threshold */
    int64_t failed_within_ms; /* see CHECK_FAILED_WITHIN_DEFAULT_MS */
};

struct check_answers {
    const cJSON *status;          /* GET /v1/status, parsed (borrowed) */
    const cJSON *migrations;      /* GET /v1/migrations, parsed; NULL when it could not be had */
    const char *migrations_error; /* why migrations is NULL */
    int64_t now_ms;               /* the time the answers are judged at */
};

/* Judges the answers. Returns the exit code and sets *line to a new
 * string (caller frees): "FLOE STATE - what is wrong | perfdata", no
 * newline. *line is NULL only when memory ran out (the code is then
 * CHECK_UNKNOWN). */
enum check_code check_verdict(const struct check_answers *in, const struct check_opts *o,
                              char **line);

/* The line for an agent that gave no status to judge: "FLOE UNKNOWN -
 * why" (why cleaned as above). Returns a new string (caller frees), NULL
 * when out of memory. */
char *check_unknown_line(const char *why);

#endif
