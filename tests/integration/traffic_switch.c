/*
 * traffic_switch — test driver for traffic_pdns.sh: one cut-over through
 * migrator/mig_traffic.c exactly as a migration makes it. The script
 * compiles it against BUILD/libfloe.a; it is not part of the product.
 *
 *   traffic_switch key=value ...
 *     traffic:  driver api api_key server_id zone ttl url
 *     switch:   workload hostname address from to
 *     timeout_ms
 *
 * Prints "switched" and exits 0, or prints "error: <message>" and exits 1
 * (2 for a bad command line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/httpc.h"
#include "migrator/mig_traffic.h"

int main(int argc, char **argv)
{
    struct cfg_traffic t = {.driver = "none", .server_id = "localhost", .ttl = 30};
    struct mig_traffic_switch sw = {.workload = "shop"};
    long long timeout_ms = 5000;
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "traffic_switch: '%s' is not key=value\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        const char *k = argv[i], *v = eq + 1;
        if (strcmp(k, "driver") == 0)
            t.driver = (char *)v;
        else if (strcmp(k, "api") == 0)
            t.api = (char *)v;
        else if (strcmp(k, "api_key") == 0)
            t.api_key = (char *)v;
        else if (strcmp(k, "server_id") == 0)
            t.server_id = (char *)v;
        else if (strcmp(k, "zone") == 0)
            t.zone = (char *)v;
        else if (strcmp(k, "ttl") == 0)
            t.ttl = atoi(v);
        else if (strcmp(k, "url") == 0)
            t.url = (char *)v;
        else if (strcmp(k, "workload") == 0)
            sw.workload = v;
        else if (strcmp(k, "hostname") == 0)
            sw.hostname = v;
        else if (strcmp(k, "address") == 0)
            sw.address = v;
        else if (strcmp(k, "from") == 0)
            sw.from_site = v;
        else if (strcmp(k, "to") == 0)
            sw.to_site = v;
        else if (strcmp(k, "timeout_ms") == 0)
            timeout_ms = atoll(v);
        else {
            fprintf(stderr, "traffic_switch: unknown key '%s'\n", k);
            return 2;
        }
    }
    if (httpc_global_init() != 0) {
        fprintf(stderr, "traffic_switch: cannot initialise libcurl\n");
        return 2;
    }
    char err[512] = "";
    if (mig_traffic_apply(&t, &sw, timeout_ms, err, sizeof err) != 0) {
        printf("error: %s\n", err);
        return 1;
    }
    printf("switched\n");
    return 0;
}
