/*
 * floe-sim — command line of the site simulator.
 *
 *   floe-sim site -c SCENARIO.json [--speedup N] [--listen ADDR]
 *                 [--modbus-port P] [--http-port P] [--snmp-port P]
 *                 [--ports-file F] [-v]
 *
 * Loads the scenario, applies the overrides, starts the site (sim_site.c)
 * and waits for SIGTERM or SIGINT. Signals are blocked in every thread and
 * taken with sigwait() here, so no handler and no global flag is needed.
 * Once listening it prints one line per listener ("modbus 127.0.0.1:1502")
 * on stdout, and writes the ports as JSON to --ports-file, so scripts that
 * asked for port 0 can find them.
 */
#include "lib/log.h"
#include "lib/util.h"
#include "sim/sim_site.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 2

static void usage(FILE *f)
{
    fprintf(
        f, "usage: floe-sim site -c SCENARIO.json [options]\n"
           "  -c, --config FILE     scenario file (see sim/README.md)\n"
           "      --speedup N       simulated seconds per real second (overrides the scenario)\n"
           "      --listen ADDR     IPv4 address to listen on (default: scenario, else 127.0.0.1)\n"
           "      --modbus-port P   Modbus TCP port (0 = any free port)\n"
           "      --http-port P     HTTP port for /sim/... and the cluster's Kubernetes API\n"
           "                        (0 = any free port)\n"
           "      --snmp-port P     SNMP agent's UDP port (0 = any free port)\n"
           "      --ports-file F    write {\"modbus\": P, \"http\": P, \"snmp\": P} to F once\n"
           "                        listening\n"
           "  -v, --verbose         debug logging\n");
}

static int parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* Written to a temporary name and renamed, so a reader never sees half. */
static int write_ports_file(const char *path, const struct sim_site *site, char *err, size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return errf(err, errlen, "%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return errf(err, errlen, "%s: %s", tmp, strerror(errno));
    fprintf(f, "{\"modbus\": %d, \"http\": %d, \"snmp\": %d}\n", sim_site_modbus_port(site),
            sim_site_http_port(site), sim_site_snmp_port(site));
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return errf(err, errlen, "%s: %s", path, strerror(e));
    }
    return 0;
}

struct site_args {
    const char *config;
    const char *listen;
    const char *ports_file;
    double speedup;  /* 0 = scenario's */
    int modbus_port; /* -1 = scenario's */
    int http_port;   /* -1 = scenario's */
    int snmp_port;   /* -1 = scenario's */
    bool verbose;
};

static int parse_site_args(int argc, char **argv, struct site_args *a)
{
    enum {
        OPT_SPEEDUP = 256,
        OPT_LISTEN,
        OPT_MODBUS_PORT,
        OPT_HTTP_PORT,
        OPT_SNMP_PORT,
        OPT_PORTS_FILE
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"speedup", required_argument, NULL, OPT_SPEEDUP},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"modbus-port", required_argument, NULL, OPT_MODBUS_PORT},
        {"http-port", required_argument, NULL, OPT_HTTP_PORT},
        {"snmp-port", required_argument, NULL, OPT_SNMP_PORT},
        {"ports-file", required_argument, NULL, OPT_PORTS_FILE},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (struct site_args){.modbus_port = -1, .http_port = -1, .snmp_port = -1};
    int c;
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case OPT_SPEEDUP:
            a->speedup = strtod(optarg, &end);
            if (end == optarg || *end || !isfinite(a->speedup) || a->speedup <= 0 ||
                a->speedup > 1e6) {
                fprintf(stderr,
                        "floe-sim: --speedup: expected a number above 0 (at most 1000000)\n");
                return -1;
            }
            break;
        case OPT_LISTEN:
            a->listen = optarg;
            break;
        case OPT_MODBUS_PORT:
        case OPT_HTTP_PORT:
        case OPT_SNMP_PORT:
            if (parse_port(optarg, c == OPT_MODBUS_PORT ? &a->modbus_port
                                   : c == OPT_HTTP_PORT ? &a->http_port
                                                        : &a->snmp_port) < 0) {
                fprintf(stderr, "floe-sim: %s: expected a port 0..65535\n", argv[optind - 1]);
                return -1;
            }
            break;
        case OPT_PORTS_FILE:
            a->ports_file = optarg;
            break;
        case 'v':
            a->verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "floe-sim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!a->config) {
        fprintf(stderr, "floe-sim: site needs -c SCENARIO.json\n");
        return -1;
    }
    return 0;
}

static int run_site(int argc, char **argv)
{
    struct site_args a;
    if (parse_site_args(argc, argv, &a) < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    log_init(a.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);

    char err[512];
    struct sim_scenario sc;
    if (sim_scenario_load(&sc, a.config, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (a.listen) {
        if (util_strlcpy(sc.listen, a.listen, sizeof sc.listen) < 0) {
            fprintf(stderr, "floe-sim: --listen: address too long\n");
            sim_scenario_clear(&sc);
            return EXIT_USAGE;
        }
    }
    if (a.modbus_port >= 0)
        sc.modbus_port = a.modbus_port;
    if (a.http_port >= 0)
        sc.http_port = a.http_port;
    if (a.snmp_port >= 0)
        sc.snmp.port = a.snmp_port;
    if (a.speedup > 0)
        sc.speedup = a.speedup;

    /* Before any thread starts, so every thread inherits the mask and the
     * signals wait for sigwait() below. SIGPIPE: a poller that hangs up
     * mid-reply must not kill the simulator. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char site_name[SIM_SITE_NAME_MAX];
    double speedup = sc.speedup;
    util_strlcpy(site_name, sc.model.site, sizeof site_name);
    struct sim_site *site;
    if (sim_site_start(&site, &sc, err, sizeof err) < 0) {
        fprintf(stderr, "floe-sim: %s\n", err);
        return 1;
    }
    const char *listen = sim_site_listen(site);
    printf("modbus %s:%d\n", listen, sim_site_modbus_port(site));
    printf("http %s:%d\n", listen, sim_site_http_port(site));
    printf("snmp %s:%d\n", listen, sim_site_snmp_port(site));
    fflush(stdout);
    int rc = 0;
    if (a.ports_file && write_ports_file(a.ports_file, site, err, sizeof err) < 0) {
        fprintf(stderr, "floe-sim: ports file: %s\n", err);
        rc = 1;
    } else {
        log_info("site %s running (speedup %g)", site_name, speedup);
        int sig = 0;
        sigwait(&stop_signals, &sig);
        log_info("stopping on %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    sim_site_stop(site);
    if (a.ports_file && rc == 0)
        unlink(a.ports_file);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "site") == 0)
        return run_site(argc - 1, argv + 1);
    fprintf(stderr, "floe-sim: unknown command '%s' (known: site)\n", argv[1]);
    return EXIT_USAGE;
}
