/*
 * cmd_replay — the `floe replay` command line: options, loading the config
 * and the telemetry, printing the decisions (policies/replay.h does the
 * work). Exit 0 when the replay ran, 1 for bad input of any kind (config,
 * CSV, database, options), with the reason on stderr.
 */
#include "agent/cmd_replay.h"

#include "policies/cfg_expr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "lib/util.h"
#include "policies/replay.h"

static const char replay_usage[] =
    "usage: floe replay [-c FILE] (--telemetry CSV | --db FILE) [options]\n"
    "\n"
    "Runs the policies of the configuration over recorded telemetry and prints\n"
    "the decisions the agent would have made, one JSON object per line (the\n"
    "shape of GET /v1/decisions), numbered from 1.\n"
    "\n"
    "  -c, --config FILE  configuration: policies, derive, devices, site time zone\n"
    "                     (default " CFG_DEFAULT_PATH ")\n"
    "  --telemetry CSV    header ts,metric,value; ts RFC 3339 or Unix seconds; an\n"
    "                     empty value is a read error; rows in any order\n"
    "  --db FILE          the agent's SQLite database instead of a CSV file\n"
    "  --from TIME        first tick (RFC 3339 or Unix seconds; default: the first\n"
    "                     sample); with --db, samples before it are not read\n"
    "  --to TIME          last tick (default: the last sample)\n"
    "  --tick DURATION    time between policy evaluations (default: the config's\n"
    "                     policy_tick, as the agent ticks; 10s when not set)\n"
    "  --stale DURATION   when a metric that no device in the configuration produces\n"
    "                     goes stale (default 3 x its median sample spacing, 30s\n"
    "                     with fewer than two samples); device metrics go stale\n"
    "                     after 3 x the device interval\n"
    "  -v                 policy state changes and a summary on stderr\n"
    "  -h, --help         this text\n";

struct replay_args {
    const char *config, *csv, *db;
    struct replay_opts opts;
    int verbose;
};

/* Returns 0, 1 (bad usage; message printed) or 2 (--help printed). */
static int parse_args(int argc, char **argv, struct replay_args *a)
{
    char msg[256];
    *a = (struct replay_args){.config = CFG_DEFAULT_PATH};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes_value = strcmp(opt, "-c") == 0 || strcmp(opt, "--config") == 0 ||
                           strcmp(opt, "--telemetry") == 0 || strcmp(opt, "--db") == 0 ||
                           strcmp(opt, "--from") == 0 || strcmp(opt, "--to") == 0 ||
                           strcmp(opt, "--tick") == 0 || strcmp(opt, "--stale") == 0;
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            fputs(replay_usage, stdout);
            return 2;
        }
        if (strcmp(opt, "-v") == 0) {
            a->verbose = 1;
            continue;
        }
        if (!takes_value) {
            fprintf(stderr, "floe replay: unknown argument '%s'\n%s", opt, replay_usage);
            return 1;
        }
        if (!val) {
            fprintf(stderr, "floe replay: %s needs a value\n", opt);
            return 1;
        }
        i++;
        if (strcmp(opt, "-c") == 0 || strcmp(opt, "--config") == 0) {
            a->config = val;
        } else if (strcmp(opt, "--telemetry") == 0) {
            a->csv = val;
        } else if (strcmp(opt, "--db") == 0) {
            a->db = val;
        } else if (strcmp(opt, "--from") == 0 || strcmp(opt, "--to") == 0) {
            bool from = strcmp(opt, "--from") == 0;
            if (util_parse_time_ms(val, from ? &a->opts.from_ms : &a->opts.to_ms) < 0) {
                fprintf(stderr, "floe replay: %s: bad time '%s' (RFC 3339 or Unix seconds)\n", opt,
                        val);
                return 1;
            }
            *(from ? &a->opts.has_from : &a->opts.has_to) = true;
        } else {
            int64_t *ms = strcmp(opt, "--tick") == 0 ? &a->opts.tick_ms : &a->opts.stale_ms;
            if (util_parse_duration_ms(val, ms, msg, sizeof msg) < 0) {
                fprintf(stderr, "floe replay: %s: %s\n", opt, msg);
                return 1;
            }
            if (*ms <= 0) {
                fprintf(stderr, "floe replay: %s: must be more than 0\n", opt);
                return 1;
            }
        }
    }
    if (!a->csv == !a->db) {
        fprintf(stderr, "floe replay: give one of --telemetry CSV or --db FILE\n%s", replay_usage);
        return 1;
    }
    return 0;
}

static int load_telemetry(const struct replay_args *a, struct replay_trace *t, char *err,
                          size_t errlen)
{
    if (a->db)
        return replay_read_db(t, a->db, a->opts.has_from ? a->opts.from_ms : INT64_MIN,
                              a->opts.has_to ? a->opts.to_ms : INT64_MAX, err, errlen);
    size_t len;
    char *text = util_read_file(a->csv, &len, err, errlen);
    if (!text)
        return -1;
    int rc = replay_read_csv(t, a->csv, text, len, err, errlen);
    free(text);
    return rc;
}

int cmd_replay(int argc, char **argv)
{
    struct replay_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 2 ? 0 : 1;

    struct cfg_errors errs = {0};
    /* No warnings about metrics no device produces: in a replay the trace
     * produces them. */
    struct floe_config *cfg = cfg_load_checked(a.config, &errs, NULL);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    cfg_errors_clear(&errs);
    if (!cfg)
        return 1;

    char err[512];
    struct replay_trace *t = replay_trace_new();
    struct replay_stats stats;
    struct replay_output out = {.decisions = stdout, .events = a.verbose ? stderr : NULL};
    rc = 1;
    if (load_telemetry(&a, t, err, sizeof err) < 0) {
        /* CSV messages already begin with FILE:LINE. */
        fprintf(stderr, "%s%s\n", a.csv ? "" : "floe replay: ", err);
        goto done;
    }
    if (replay_run(cfg, t, &a.opts, &out, &stats, err, sizeof err) < 0) {
        fprintf(stderr, "floe replay: %s\n", err);
        goto done;
    }
    if (a.verbose) {
        char from[32], to[32], tick[16];
        util_format_rfc3339(stats.first_ms, from, sizeof from);
        util_format_rfc3339(stats.last_ms, to, sizeof to);
        util_format_duration(stats.tick_ms, tick, sizeof tick);
        fprintf(stderr, "replay: %llu samples, %llu ticks of %s from %s to %s, %llu decisions\n",
                (unsigned long long)stats.samples, (unsigned long long)stats.ticks, tick, from, to,
                (unsigned long long)stats.decisions);
    }
    rc = 0;
done:
    replay_trace_free(t);
    cfg_free(cfg);
    return rc;
}
