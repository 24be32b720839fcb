/*
 * cmd_check — `floe check` (SPEC 1), the Nagios/Icinga plugin: asks a
 * running agent for GET /v1/status and GET /v1/migrations, has
 * agent/check.h judge them, prints the one line with perfdata on stdout
 * and exits with the plugin's code. URL and token as the other client
 * commands (--url/--token, else $FLOE_URL/$FLOE_TOKEN, else
 * http://127.0.0.1:8470 and no token).
 */
#ifndef FLOE_CMD_CHECK_H
#define FLOE_CMD_CHECK_H

/* argv[0] is "check". Returns 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
 * (also for a bad option and for --help, as plugins do). */
int cmd_check(int argc, char **argv);

#endif
