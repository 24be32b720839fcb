/*
 * floe — entry point: dispatches to the subcommands. Each subcommand lives
 * in its own module; this file only parses the command word and the
 * options shared by all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli.h"
#include "agent/cmd_check.h"
#include "agent/cmd_replay.h"
#include "agent/daemon.h"
#include "config/config.h"
#include "core/agent.h"
#include "lib/httpc.h"
#include "lib/log.h"
#include "policies/cfg_expr.h"

static const char usage[] =
    "usage: floe COMMAND [options]\n"
    "\n"
    "  agent [-c FILE] [-v]            run the agent in the foreground (systemd Type=notify)\n"
    "  check-config [-c FILE]          validate the configuration; errors as\n"
    "                                  FILE:LINE:COL: json.path: message\n"
    "  replay -c FILE --telemetry CSV  run the policies over recorded telemetry; decisions as JSON\n"
    "                                  lines (also --db FILE --from T --to T; see floe replay -h)\n"
    "  status [--all]                  one screen (80x24) on a running agent: alarms with their\n"
    "                                  values and decisions, failing devices, headline metrics;\n"
    "                                  --all: every alarm and device, unclipped, every metric\n"
    "  decisions [ID]                  the latest decisions, one line each (and where chosen\n"
    "                                  workloads go); with ID one decision in full: inputs,\n"
    "                                  every workload and peer considered and why\n"
    "  approve ID, reject ID           answer a decision awaiting approval (operator token)\n"
    "  migrations [ID]                 the latest migrations, one line each; with ID one in\n"
    "                                  full: replicas, time per phase, every event\n"
    "  abort ID                        roll a migration back before it cuts over (operator token)\n"
    "  check                           Nagios/Icinga plugin: one line with perfdata; exit 0 OK,\n"
    "                                  1 WARNING, 2 CRITICAL, 3 UNKNOWN (see floe check --help)\n"
    "  version                         print the version\n"
    "\n"
    "status, decisions, approve, reject, migrations, abort and check take [--url URL]\n"
    "[--token T], else $FLOE_URL and $FLOE_TOKEN, else http://127.0.0.1:8470.\n"
    "Exit (but check): 0 ok, 1 refused, 3 unreachable.\n"
    "\n"
    "Default configuration: " CFG_DEFAULT_PATH "\n";

/* Parses [-c FILE] [-v]; returns 0 or -1 after printing what was wrong. */
static int parse_config_opts(int argc, char **argv, const char **path, int *verbose)
{
    *path = CFG_DEFAULT_PATH;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            *path = argv[++i];
        } else if (strcmp(argv[i], "-v") == 0 && verbose) {
            *verbose = 1;
        } else {
            fprintf(stderr, "floe %s: unknown argument '%s'\n%s", argv[0], argv[i], usage);
            return -1;
        }
    }
    return 0;
}

static int cmd_agent(int argc, char **argv)
{
    const char *path;
    int verbose = 0;
    if (parse_config_opts(argc, argv, &path, &verbose) != 0)
        return 1;
    log_init(verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    return daemon_run(path);
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path;
    if (parse_config_opts(argc, argv, &path, NULL) != 0)
        return 1;
    struct cfg_errors errs = { 0 }, warnings = { 0 };
    struct floe_config *cfg = cfg_load_checked(path, &errs, &warnings);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.lines[i]);
    for (size_t i = 0; i < warnings.n; i++)
        fprintf(stderr, "%s\n", warnings.lines[i]);
    cfg_errors_clear(&errs);
    cfg_errors_clear(&warnings);
    if (!cfg)
        return 1;
    size_t points = 0;
    for (size_t i = 0; i < cfg->ndevices; i++)
        points += cfg->devices[i].nmetrics;
    char devices[160];
    cfg_devices_summary(cfg, devices, sizeof devices);
    printf("%s: valid: site %s, %s, %zu points, %zu policies\n", path, cfg->site.name, devices,
           points, cfg->npolicies);
    cfg_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (httpc_global_init() < 0) {
        fputs("floe: cannot initialise libcurl\n", stderr);
        return 1;
    }
    const char *cmd = argv[1];
    argc--;
    argv++;
    if (strcmp(cmd, "agent") == 0)
        return cmd_agent(argc, argv);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc, argv);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc, argv);
    if (strcmp(cmd, "decisions") == 0)
        return cli_decisions(argc, argv);
    if (strcmp(cmd, "approve") == 0)
        return cli_approve(argc, argv);
    if (strcmp(cmd, "reject") == 0)
        return cli_reject(argc, argv);
    if (strcmp(cmd, "migrations") == 0)
        return cli_migrations(argc, argv);
    if (strcmp(cmd, "abort") == 0)
        return cli_abort(argc, argv);
    if (strcmp(cmd, "status") == 0)
        return cli_status(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("floe %s\n", FLOE_VERSION);
        return 0;
    }
    fprintf(stderr, "floe: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
